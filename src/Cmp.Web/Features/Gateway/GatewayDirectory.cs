using System.Collections.Concurrent;
using Cmp.Flows.Runtime;
using Cmp.Web.Features.AgentConfigs;
using Cmp.Web.Features.Agents;
using Cmp.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Gateway;

/// <summary>A plan's LIMIT component: at most <see cref="Amount"/> of <see cref="Unit"/> a month.</summary>
public sealed record PlanLimit(long Amount, string Unit);

/// <summary>
/// What the gateway reads on every call and what rarely changes: a key with its config, resource, agent and plan,
/// a plan's LIMIT, a flow version's JSON, an agent's (still encrypted) secrets and a version's files. Each is read
/// from the database once and kept in memory until this process writes to one of the tables behind it
/// (<see cref="WriteGeneration"/>), or for <c>Gateway:CacheSeconds</c> (default 10) at most, which bounds what
/// another server process's writes can leave stale. Unknown keys are never cached. Cached entities are read-only.
/// </summary>
public sealed class GatewayDirectory : IDisposable
{
    private sealed record Entry<T>(long Generation, T Value);

    private sealed record Box<T>(T? Value) where T : class;

    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = 256 * 1024 }); // in KB: 256 MB
    private readonly ConcurrentDictionary<Guid, long> _lastTouched = new();
    private readonly WriteGeneration _generation;
    private readonly IDataProtector _secrets;
    private readonly TimeSpan _lifetime;

    public GatewayDirectory(WriteGeneration generation, IDataProtectionProvider protection, IConfiguration configuration)
    {
        _generation = generation;
        _secrets = protection.CreateProtector(AgentSecrets.Purpose);
        _lifetime = TimeSpan.FromSeconds(Math.Max(0, configuration.GetValue("Gateway:CacheSeconds", 10)));
    }

    private const long MaxEntryKb = 8 * 1024;

    private async Task<T> GetAsync<T>(string key, Func<Task<T>> load, Func<T, long> sizeKb)
    {
        var generation = _generation.Current; // read before the database, so a write that lands meanwhile voids the entry
        if (_cache.TryGetValue(key, out Entry<T>? entry) && entry!.Generation == generation)
        {
            return entry.Value;
        }
        var value = await load();
        var size = 1 + sizeKb(value);
        if (_lifetime > TimeSpan.Zero && size <= MaxEntryKb)
        {
            _cache.Set(key, new Entry<T>(generation, value), new MemoryCacheEntryOptions { Size = size, AbsoluteExpirationRelativeToNow = _lifetime });
        }
        return value;
    }

    /// <summary>The key with this hash, with its config, resource, agent and plan; null for an unknown key.</summary>
    public async Task<ApiKey?> KeyAsync(CmpDbContext db, string hash, CancellationToken ct)
    {
        var box = await GetAsync("key:" + hash, async () => new Box<ApiKey>(await db.ApiKeys.AsNoTracking()
            .Include(k => k.Config).ThenInclude(c => c.Resource).ThenInclude(r => r.Agent)
            .Include(k => k.Config).ThenInclude(c => c.Resource).ThenInclude(r => r.Plan)
            .FirstOrDefaultAsync(k => k.Hash == hash, ct)), _ => 4);
        if (box.Value is null)
        {
            _cache.Remove("key:" + hash);
        }
        return box.Value;
    }

    /// <summary>A config with its resource, agent and plan (a widget session names the config, not a key).</summary>
    public async Task<CustomerAgentConfig?> ConfigAsync(CmpDbContext db, Guid configId, CancellationToken ct) =>
        (await GetAsync("config:" + configId.ToString("N"), async () => new Box<CustomerAgentConfig>(await db.AgentConfigs.AsNoTracking()
            .Include(c => c.Resource).ThenInclude(r => r.Agent)
            .Include(c => c.Resource).ThenInclude(r => r.Plan)
            .FirstOrDefaultAsync(c => c.Id == configId, ct)), _ => 4)).Value;

    /// <summary>Every config's allowed_domains patterns together: a preflight only asks whether any config allows the origin.</summary>
    public Task<IReadOnlyList<string>> AllowedPatternsAsync(CmpDbContext db, CancellationToken ct) =>
        GetAsync("allowed-patterns", async () =>
            (IReadOnlyList<string>)(await db.AgentConfigs.AsNoTracking().Where(c => c.AllowedDomains != "").Select(c => c.AllowedDomains).ToListAsync(ct))
                .SelectMany(l => l.Split('\n', StringSplitOptions.RemoveEmptyEntries)).Distinct(StringComparer.Ordinal).ToList(),
            patterns => patterns.Sum(p => p.Length) / 512);

    /// <summary>The plan's LIMIT component, or null when the plan has none.</summary>
    public async Task<PlanLimit?> LimitAsync(CmpDbContext db, Guid planId, CancellationToken ct) =>
        (await GetAsync("limit:" + planId.ToString("N"), async () =>
        {
            var limit = await db.PlanComponents.AsNoTracking().Where(c => c.PlanId == planId && c.BillingType == BillingType.Limit)
                .Select(c => new { c.LimitAmount, c.MeasuredUnit }).FirstOrDefaultAsync(ct);
            return new Box<PlanLimit>(limit?.LimitAmount is { } amount ? new PlanLimit(amount, limit.MeasuredUnit) : null);
        }, _ => 0)).Value;

    /// <summary>A flow version's JSON (versions never change once imported).</summary>
    public Task<string> FlowJsonAsync(CmpDbContext db, Guid versionId, CancellationToken ct) =>
        GetAsync("flow:" + versionId.ToString("N"),
            () => db.FlowVersions.AsNoTracking().Where(v => v.Id == versionId).Select(v => v.Json).FirstAsync(ct), json => json.Length / 512);

    /// <summary>The agent's variables, decrypted for this one run; memory keeps only the ciphertext.</summary>
    public async Task<IReadOnlyDictionary<string, string>> SecretsAsync(CmpDbContext db, Guid agentId, CancellationToken ct)
    {
        var rows = await GetAsync("secrets:" + agentId.ToString("N"), async () =>
            (IReadOnlyList<KeyValuePair<string, string>>)(await db.AgentSecrets.AsNoTracking().Where(s => s.AgentId == agentId)
                .Select(s => new { s.Name, s.Protected }).ToListAsync(ct)).Select(s => KeyValuePair.Create(s.Name, s.Protected)).ToList(),
            rows => rows.Sum(r => r.Value.Length) / 1024);
        return rows.ToDictionary(r => r.Key, r => _secrets.Unprotect(r.Value), StringComparer.Ordinal);
    }

    /// <summary>The files of a flow version's File nodes; kept in memory when they total 8 MB at most.</summary>
    public async Task<IFlowFileProvider> FilesAsync(CmpDbContext db, Guid versionId, CancellationToken ct)
    {
        var files = await GetAsync("files:" + versionId.ToString("N"), async () =>
            await db.AgentFiles.AsNoTracking().Where(f => f.FlowVersionId == versionId).OrderBy(f => f.CreatedAt)
                .Select(f => new { f.NodeId, File = new FlowFile(f.FileName, f.Content) }).ToListAsync(ct),
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
