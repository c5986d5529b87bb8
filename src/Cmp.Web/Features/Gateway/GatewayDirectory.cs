using System.Collections.Concurrent;
using Cmp.Flows.Runtime;
using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Features.Agents;
using Cmp.Web.Features.Billing;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Gateway;

/// <summary>The flow version a resource is pinned to: its JSON and its flow on a remote runtime, if any.</summary>
public sealed record PinnedFlow(string Json, string? RemoteFlowId);

/// <summary>
/// What the gateway reads on every call and what rarely changes: a key with its config, resource, agent and plan,
/// a plan's LIMIT, a flow version's JSON, an agent's (still encrypted) secrets and a version's files. Each is read
/// from the database once and kept in memory until this process writes to one of the tables behind it
/// (<see cref="WriteGeneration"/>), or for <c>Gateway:CacheSeconds</c> (default 10) at most, which bounds what
/// another server process's writes can leave stale. Unknown keys are never cached. Cached entities are read-only.
/// </summary>
public sealed class GatewayDirectory : IDisposable
{
    private sealed class Entry<T>(long generation, T value, long loadedAt)
    {
        public long Generation { get; } = generation;

        public T Value { get; } = value;

        public long LoadedAt { get; } = loadedAt;

        /// <summary>1 while a refresh of this entry runs in the background.</summary>
        public int Refreshing;
    }

    private sealed record Box<T>(T? Value) where T : class;

    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = 256 * 1024 }); // in KB: 256 MB
    private readonly ConcurrentDictionary<Guid, long> _lastTouched = new();
    private readonly WriteGeneration _generation;
    private readonly IServiceScopeFactory _scopes;
    private readonly ILogger<GatewayDirectory> _logger;
    private readonly IDataProtector _secrets;
    private readonly TimeSpan _lifetime;
    private readonly TimeProvider _time;

    public GatewayDirectory(
        WriteGeneration generation, IServiceScopeFactory scopes, IDataProtectionProvider protection, IConfiguration configuration,
        ILogger<GatewayDirectory> logger, TimeProvider time)
    {
        _generation = generation;
        _scopes = scopes;
        _logger = logger;
        _secrets = protection.CreateProtector(AgentSecrets.Purpose);
        _lifetime = TimeSpan.FromSeconds(Math.Max(0, configuration.GetValue("Gateway:CacheSeconds", 10.0)));
        _time = time;
    }

    private const long MaxEntryKb = 8 * 1024;

    private readonly ConcurrentDictionary<Task, bool> _refreshing = new();

    /// <summary>Completes when the background refreshes running now are done (they never throw); tests wait for it instead of polling.</summary>
    internal Task RefreshesDone() => Task.WhenAll(_refreshing.Keys);

    /// <summary>
    /// The cached value while this process has written nothing behind it and it is younger than the lifetime; else
    /// loaded now. Past half its lifetime an entry in use is refreshed in the background (one refresh at a time),
    /// so under steady traffic no caller waits for a reload, and none sees a value older than the lifetime.
    /// </summary>
    private async Task<T> GetAsync<T>(CmpDbContext db, string key, CancellationToken ct, Func<CmpDbContext, CancellationToken, Task<T>> load, Func<T, long> sizeKb)
    {
        var generation = _generation.Current; // read before the database, so a write that lands meanwhile voids the entry
        var now = _time.GetTimestamp();
        if (_cache.TryGetValue(key, out Entry<T>? entry) && entry!.Generation == generation)
        {
            var age = _time.GetElapsedTime(entry.LoadedAt, now);
            if (age < _lifetime)
            {
                if (age >= _lifetime / 2 && Interlocked.Exchange(ref entry.Refreshing, 1) == 0)
                {
                    var refresh = Task.Run(() => RefreshAsync(key, load, sizeKb));
                    _refreshing[refresh] = true;
                    _ = refresh.ContinueWith(done => _refreshing.TryRemove(done, out _), TaskScheduler.Default);
                }
                return entry.Value;
            }
        }
        var value = await load(db, ct);
        Store(key, generation, now, value, sizeKb);
        return value;
    }

    private async Task RefreshAsync<T>(string key, Func<CmpDbContext, CancellationToken, Task<T>> load, Func<T, long> sizeKb)
    {
        try
        {
            var generation = _generation.Current;
            var now = _time.GetTimestamp();
            await using var scope = _scopes.CreateAsyncScope();
            Store(key, generation, now, await load(scope.ServiceProvider.GetRequiredService<CmpDbContext>(), CancellationToken.None), sizeKb);
        }
        catch (Exception ex)
        {
            // The entry stays until its lifetime ends; the next caller then loads it in the foreground.
            _logger.LogWarning(ex, "Refreshing the gateway cache entry {Key} failed.", key.Split(':')[0]);
        }
    }

    private void Store<T>(string key, long generation, long loadedAt, T value, Func<T, long> sizeKb)
    {
        var size = 1 + sizeKb(value);
        if (_lifetime > TimeSpan.Zero && size <= MaxEntryKb)
        {
            _cache.Set(key, new Entry<T>(generation, value, loadedAt), new MemoryCacheEntryOptions { Size = size, AbsoluteExpirationRelativeToNow = _lifetime });
        }
    }

    /// <summary>The key with this hash, with its config, resource, agent and plan; null for an unknown key.</summary>
    public async Task<ApiKey?> KeyAsync(CmpDbContext db, string hash, CancellationToken ct)
    {
        var box = await GetAsync(db, "key:" + hash, ct, async (d, token) => new Box<ApiKey>(await d.ApiKeys.AsNoTracking()
            .Include(k => k.Config).ThenInclude(c => c.Resource).ThenInclude(r => r.Agent)
            .Include(k => k.Config).ThenInclude(c => c.Resource).ThenInclude(r => r.Plan)
            .FirstOrDefaultAsync(k => k.Hash == hash, token)), _ => 4);
        if (box.Value is null)
        {
            _cache.Remove("key:" + hash);
        }
        return box.Value;
    }

    /// <summary>Whether the key with this id still works (a widget session is checked against its publishable key on every call).</summary>
    public async Task<bool> KeyUsableAsync(CmpDbContext db, Guid keyId, DateTime now, CancellationToken ct)
    {
        var key = (await GetAsync(db, "key-id:" + keyId.ToString("N"), ct, async (d, token) => new Box<KeyValidity>(await d.ApiKeys.AsNoTracking()
            .Where(k => k.Id == keyId).Select(k => new KeyValidity(k.RevokedAt, k.ExpiresAt)).FirstOrDefaultAsync(token)), _ => 1)).Value;
        return key is not null && key.RevokedAt is null && !(key.ExpiresAt <= now);
    }

    private sealed record KeyValidity(DateTime? RevokedAt, DateTime? ExpiresAt);

    /// <summary>A config with its resource, agent and plan (a widget session names the config, not a key).</summary>
    public async Task<CustomerAgentConfig?> ConfigAsync(CmpDbContext db, Guid configId, CancellationToken ct) =>
        (await GetAsync(db, "config:" + configId.ToString("N"), ct, async (d, token) => new Box<CustomerAgentConfig>(await d.AgentConfigs.AsNoTracking()
            .Include(c => c.Resource).ThenInclude(r => r.Agent)
            .Include(c => c.Resource).ThenInclude(r => r.Plan)
            .FirstOrDefaultAsync(c => c.Id == configId, token)), _ => 4)).Value;

    /// <summary>Every config's allowed_domains patterns together: a preflight only asks whether any config allows the origin.</summary>
    public Task<IReadOnlyList<string>> AllowedPatternsAsync(CmpDbContext db, CancellationToken ct) =>
        GetAsync(db, "allowed-patterns", ct, async (d, token) =>
            (IReadOnlyList<string>)(await d.AgentConfigs.AsNoTracking().Where(c => c.AllowedDomains != "").Select(c => c.AllowedDomains).ToListAsync(token))
                .SelectMany(l => l.Split('\n', StringSplitOptions.RemoveEmptyEntries)).Distinct(StringComparer.Ordinal).ToList(),
            patterns => patterns.Sum(p => p.Length) / 512);

    /// <summary>The plan's LIMIT component, or null when the plan has none.</summary>
    public async Task<PlanLimit?> LimitAsync(CmpDbContext db, Guid planId, CancellationToken ct) =>
        (await GetAsync(db, "limit:" + planId.ToString("N"), ct, async (d, token) =>
        {
            var limit = await d.PlanComponents.AsNoTracking().Where(c => c.PlanId == planId && c.BillingType == BillingType.Limit).FirstOrDefaultAsync(token);
            return new Box<PlanLimit>(PlanLimit.Of(limit));
        }, _ => 0)).Value;

    /// <summary>A flow version's JSON (never changes once imported) and its flow on a remote runtime, if any.</summary>
    public Task<PinnedFlow> FlowAsync(CmpDbContext db, Guid versionId, CancellationToken ct) =>
        GetAsync(db, "flow:" + versionId.ToString("N"), ct,
            (d, token) => d.FlowVersions.AsNoTracking().Where(v => v.Id == versionId).Select(v => new PinnedFlow(v.Json, v.RemoteFlowId)).FirstAsync(token),
            flow => flow.Json.Length / 512);

    /// <summary>The agent's variables, decrypted for this one run; memory keeps only the ciphertext.</summary>
    public async Task<IReadOnlyDictionary<string, string>> SecretsAsync(CmpDbContext db, Guid agentId, CancellationToken ct)
    {
        var rows = await GetAsync(db, "secrets:" + agentId.ToString("N"), ct, async (d, token) =>
            (IReadOnlyList<KeyValuePair<string, string>>)(await d.AgentSecrets.AsNoTracking().Where(s => s.AgentId == agentId)
                .Select(s => new { s.Name, s.Protected }).ToListAsync(token)).Select(s => KeyValuePair.Create(s.Name, s.Protected)).ToList(),
            rows => rows.Sum(r => r.Value.Length) / 1024);
        return rows.ToDictionary(r => r.Key, r => _secrets.Unprotect(r.Value), StringComparer.Ordinal);
    }

    /// <summary>The files of a flow version's File nodes; kept in memory when they total 8 MB at most.</summary>
    public async Task<IFlowFileProvider> FilesAsync(CmpDbContext db, Guid versionId, CancellationToken ct)
    {
        var files = await GetAsync(db, "files:" + versionId.ToString("N"), ct, async (d, token) =>
            await d.AgentFiles.AsNoTracking().Where(f => f.FlowVersionId == versionId).OrderBy(f => f.CreatedAt)
                .Select(f => new { f.NodeId, File = new FlowFile(f.FileName, f.Content) }).ToListAsync(token),
            list => list.Sum(f => (long)f.File.Content.Length) / 1024);
        return new DictionaryFileProvider(files.GroupBy(f => f.NodeId)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<FlowFile>)g.Select(f => f.File).ToList()));
    }

    /// <summary>True at most once a minute per key: <c>last_used_at</c> is kept to the minute, not written on every call.</summary>
    public bool ShouldTouch(Guid keyId, DateTime now)
    {
        var ticks = now.Ticks;
        var last = _lastTouched.GetOrAdd(keyId, 0);
        return ticks - last >= TimeSpan.TicksPerMinute && _lastTouched.TryUpdate(keyId, ticks, last);
    }

    public void Dispose() => _cache.Dispose();
}
