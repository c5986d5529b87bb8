using BenchmarkDotNet.Running;
using Cmp.Bench;
using Cmp.Flows.Checks;

// `--samples` lists every export with its size and whether it is runnable, then exits.
if (args.Contains("--samples"))
{
    foreach (var file in Samples.All())
    {
        var report = FlowChecker.Check(File.ReadAllBytes(file.FullName));
        Console.WriteLine($"{file.Length,9:N0}  {(report.Runnable ? "runnable" : "refused "),-8}  {Path.GetRelativePath(Samples.Directory, file.FullName)}");
    }
    return;
}

Console.WriteLine($"Samples:          {Samples.Directory}");
Console.WriteLine($"Largest:          {Samples.Describe(Samples.Largest())}");
Console.WriteLine($"Runnable ~300 KB: {Samples.Describe(Samples.Runnable300KB())}");
Console.WriteLine($"Basic Prompting:  {Samples.Describe(Samples.BasicPrompting())}");
BenchmarkSwitcher.FromAssembly(typeof(Samples).Assembly).Run(args);
