namespace Cmp.Web.Features.AgentConfigs.Pages;

/// <summary>
/// A key just created, readable once: <see cref="KeyCreatedNotice"/> takes it and nothing else keeps a copy, so after the
/// notice is dismissed the key is gone from the console as it is from the server (which keeps only its hash).
/// </summary>
public sealed class OneTimeKey(string name, string kind, string key)
{
    private string? _key = key;

    public string Name { get; } = name;

    public string Kind { get; } = kind;

    /// <summary>The key the first time; null ever after.</summary>
    public string? Take() => Interlocked.Exchange(ref _key, null);
}
