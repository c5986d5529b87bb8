using Cmp.Flows.Checks;

namespace Cmp.Bench;

/// <summary>Finds the Langflow sample exports and picks the ones the benchmarks use.</summary>
public static class Samples
{
    /// <summary>The size the check target is stated for (~300 KB).</summary>
    public const long TargetSize = 300 * 1024;

    /// <summary>How far from <see cref="TargetSize"/> an export may be and still count as "~300 KB".</summary>
    public const double SizeTolerance = 0.2;

    /// <summary>CMP_SAMPLES_DIR, else <c>../shared/langflow-samples</c> next to the folder holding Cmp.slnx.</summary>
    public static string Directory { get; } = FindDirectory();

    public static string Path(string version, string name) => System.IO.Path.Combine(Directory, version, name + ".json");

    public static IReadOnlyList<FileInfo> All() =>
        new DirectoryInfo(Directory).EnumerateFiles("*.json", SearchOption.AllDirectories)
            .OrderByDescending(f => f.Length)
            .ThenBy(f => f.FullName, StringComparer.Ordinal)
            .ToList();

    /// <summary>The largest export of all versions.</summary>
    public static FileInfo Largest() => All()[0];

    /// <summary>The runnable export closest to ~300 KB (within the tolerance), else 1.7 "Vector Store RAG".</summary>
    public static FileInfo Runnable300KB()
    {
        var low = TargetSize * (1 - SizeTolerance);
        var high = TargetSize * (1 + SizeTolerance);
        var candidate = All()
            .Where(f => f.Length >= low && f.Length <= high)
            .OrderBy(f => Math.Abs(f.Length - TargetSize))
            .FirstOrDefault(f => FlowChecker.Check(File.ReadAllBytes(f.FullName)).Runnable);
        return candidate ?? new FileInfo(Path("1.7", "Vector Store RAG"));
    }

    public static FileInfo BasicPrompting() => new(Path("1.7", "Basic Prompting"));

    public static string Describe(FileInfo file) =>
        $"{System.IO.Path.GetRelativePath(Directory, file.FullName)} ({file.Length:N0} bytes)";

    private static string FindDirectory()
    {
        if (Environment.GetEnvironmentVariable("CMP_SAMPLES_DIR") is { Length: > 0 } fromEnv)
        {
            return System.IO.Path.GetFullPath(fromEnv);
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Cmp.slnx")))
            {
                return System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "langflow-samples"));
            }
        }
        throw new DirectoryNotFoundException(
            $"No folder holding Cmp.slnx above {AppContext.BaseDirectory}; set CMP_SAMPLES_DIR to the langflow-samples folder.");
    }
}
