using System.Globalization;
using Cmp.Web.Infrastructure.Email;
using Cmp.Web.Infrastructure.Http;
using Cmp.Web.Infrastructure.Persistence;
using Cmp.Web.Infrastructure.Security;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Features.Billing;

/// <summary>What one run of the month close did.</summary>
public sealed record MonthCloseResult(bool Ran, IReadOnlyList<string> ClosedMonths, int FrozenInvoices, int Emails);

/// <summary>
/// The month close: every month before the current one (UTC) that is not closed yet gets its invoices frozen from
/// <c>pending</c> to <c>created</c>, with their items stored, and each buyer organization's owners are mailed.
/// <list type="bullet">
/// <item>Idempotent: a frozen invoice is never frozen again (the freeze is a guarded update, <c>WHERE state =
/// 'Pending'</c>, with its items and mails in the same transaction), and a closed month is recorded in
/// <c>billing_closures</c> and skipped by every later run.</item>
/// <item>One runner at a time: a lease in the database (<see cref="JobLeases"/>) keeps several instances, or two
/// timers, from doing the work twice; were the lease lost mid-run, the guarded freeze still freezes each invoice once.</item>
/// <item>Usage that arrives after the close never reaches a frozen invoice: frozen invoices are read from their
/// stored items, and closed months are not computed again.</item>
/// </list>
/// Between closes it also brings the current month's pending invoices up to date, so staff lists show fresh totals.
/// A hand-written timer over <see cref="TimeProvider"/> rather than Quartz.NET: one job, one lease row; Quartz's
/// clustered store would add its own eleven tables per database for the same guarantee.
/// </summary>
public sealed class MonthClose(IServiceScopeFactory scopes, TimeProvider time, SqliteWriteGate gate, IConfiguration configuration, ILogger<MonthClose> logger)
    : BackgroundService
{
    public const string LeaseName = "billing.month-close";
    private const int BatchSize = 200;
    private static readonly TimeSpan LeaseLength = TimeSpan.FromMinutes(10);

    /// <summary><c>Billing:JobIntervalMinutes</c> (default 10; 0 turns the timer off, for tests that run the close by hand).</summary>
    private TimeSpan Interval => TimeSpan.FromMinutes(configuration.GetValue("Billing:JobIntervalMinutes", 10.0));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Interval <= TimeSpan.Zero)
        {
            return;
        }
        try
        {
            // Not at once: a starting server has migrations and its first requests to serve.
            await Task.Delay(TimeSpan.FromMinutes(1), time, stoppingToken);
            using var timer = new PeriodicTimer(Interval, time);
            do
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogError(ex, "The month close failed; it runs again in {Interval}", Interval);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Closes every month due and refreshes the current one, unless another runner holds the lease.</summary>
    public async Task<MonthCloseResult> RunOnceAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CmpDbContext>();
        var holder = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
        var now = time.GetUtcNow().UtcDateTime;
        if (await gate.WriteAsync(db, async () => await JobLeases.TryTakeAsync(db, LeaseName, holder, now, LeaseLength, ct) ? 1 : 0) != 1)
        {
            logger.LogInformation("Month close skipped: another runner holds the lease");
            return new MonthCloseResult(false, [], 0, 0);
        }
        try
        {
            var current = BillingMonth.Of(now);
            var closed = new List<string>();
            var frozen = 0;
            var mails = new List<OutgoingEmail>();
            foreach (var month in (await InvoiceBook.OpenMonthsAsync(db, now, ct)).Where(m => m < current))
            {
                var (count, emails) = await CloseMonthAsync(scope.ServiceProvider, db, month, now, ct);
                closed.Add(month.Period);
                frozen += count;
                mails.AddRange(emails);
                // Renewed between months: a long backlog must not outlive the lease.
                await gate.WriteAsync(db, async () => await JobLeases.TryTakeAsync(db, LeaseName, holder, time.GetUtcNow().UtcDateTime, LeaseLength, ct) ? 1 : 0);
            }
            var pending = await InvoiceBook.ComputeAsync(db, BillingScope.All, current, ct);
            await gate.WriteAsync(db, async () =>
            {
                await InvoiceBook.SavePendingAsync(db, current, pending, now, ct);
                return 0;
            });
            var sender = scope.ServiceProvider.GetRequiredService<EmailSender>();
            foreach (var mail in mails)
            {
                await sender.DeliverAsync(mail, ct);
            }
            if (closed.Count > 0)
            {
                logger.LogInformation("Month close: closed {Months}, froze {Invoices} invoices, mailed {Emails} owners", string.Join(", ", closed), frozen, mails.Count);
            }
            return new MonthCloseResult(true, closed, frozen, mails.Count);
        }
        finally
        {
            await gate.WriteAsync(db, async () =>
            {
                await JobLeases.ReleaseAsync(db, LeaseName, holder);
                return 0;
            });
        }
    }

    /// <summary>Freezes one month's invoices, in batches (each its own transaction), then records the month as closed.</summary>
    private async Task<(int Frozen, List<OutgoingEmail> Mails)> CloseMonthAsync(IServiceProvider services, CmpDbContext db, BillingMonth month, DateTime now, CancellationToken ct)
    {
        var frozen = 0;
        var mails = new List<OutgoingEmail>();
        var counted = await InvoiceBook.RecountAsync(db, null, month, ct);
        var invoices = InvoiceRules.Invoices(await InvoiceBook.ComputeAsync(db, BillingScope.All, month, counted, ct)).ToList();
        await CheckTotalsAsync(db, month, counted, ct);
        foreach (var batch in invoices.Chunk(BatchSize))
        {
            var (count, emails) = await FreezeBatchAsync(services, db, month, batch, now, ct);
            frozen += count;
            mails.AddRange(emails);
        }
        // Pending invoices the computation above did not produce: a reader created them meanwhile, from usage that came
        // later. Each is frozen from its own computation, possibly empty.
        var leftovers = await db.Invoices.AsNoTracking().Where(i => i.Year == month.Year && i.Month == month.Month && i.State == InvoiceState.Pending)
            .Select(i => new { i.CustomerId, i.Currency }).ToListAsync(ct);
        foreach (var left in leftovers)
        {
            var computed = InvoiceRules.Invoices(await InvoiceBook.ComputeAsync(db, BillingScope.Customer(left.CustomerId), month, ct, UsageSource.Records))
                .Where(i => i.Currency == left.Currency).ToList();
            var batch = computed.Count > 0 ? computed : [(left.CustomerId, left.Currency, new List<ComputedItem>(), 0m)];
            var (count, emails) = await FreezeBatchAsync(services, db, month, batch, now, ct);
            frozen += count;
            mails.AddRange(emails);
        }
        await gate.WriteAsync(db, () => db.Database.ExecuteSqlAsync($"""
            INSERT INTO billing_closures (period, closed_at, invoices) VALUES ({month.Period}, {now}, {frozen})
            ON CONFLICT (period) DO NOTHING
            """, ct));
        return (frozen, mails);
    }

    /// <summary>
    /// The records are what is billed; the totals beside them serve the reads during the month. Were they ever to
    /// disagree (a record written around the metering transaction), the close still bills the records, and says so.
    /// </summary>
    private async Task CheckTotalsAsync(CmpDbContext db, BillingMonth month, List<BilledUsage> records, CancellationToken ct)
    {
        var counted = records.ToDictionary(u => (u.ResourceId, u.PlanId ?? Guid.Empty), u => (u.Invocations, u.Tokens));
        var kept = (await InvoiceBook.TotalsAsync(db, null, month, ct)).ToDictionary(u => (u.ResourceId, u.PlanId ?? Guid.Empty), u => (u.Invocations, u.Tokens));
        var differ = counted.Keys.Union(kept.Keys).Count(k => counted.GetValueOrDefault(k) != kept.GetValueOrDefault(k));
        if (differ > 0)
        {
            logger.LogWarning("Month close {Month}: the usage totals of {Count} resource-plan pairs differ from their records; the invoices bill the records", month.Period, differ);
        }
    }

    private async Task<(int Frozen, List<OutgoingEmail> Mails)> FreezeBatchAsync(
        IServiceProvider services, CmpDbContext db, BillingMonth month,
        IReadOnlyCollection<(Guid CustomerId, string Currency, List<ComputedItem> Items, decimal Total)> batch, DateTime now, CancellationToken ct)
    {
        var customerIds = batch.Select(b => b.CustomerId).Distinct().ToList();
        var owners = (await db.CustomerPermissions.AsNoTracking().Where(p => customerIds.Contains(p.CustomerId) && p.Role == CustomerRole.Owner)
                .Select(p => new { p.CustomerId, p.User.Email }).ToListAsync(ct))
            .ToLookup(p => p.CustomerId, p => p.Email);
        var names = await db.Customers.AsNoTracking().Where(c => customerIds.Contains(c.Id)).ToDictionaryAsync(c => c.Id, c => c.Name, ct);
        var baseUrl = Refs.BaseUrl(services);
        // Twice at most: a save that finds an invoice frozen by another runner meanwhile starts the batch over, and the
        // second time that invoice is skipped.
        for (var attempt = 1; ; attempt++)
        {
            if (db.Database.IsSqlite())
            {
                await gate.WaitAsync(ct);
            }
            try
            {
                await using var tx = await db.Database.BeginTransactionAsync(ct);
                var (frozen, mails) = await FreezeAsync(db, month, batch, owners, names, baseUrl, now, ct);
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
                // Nothing of a saved batch is needed again (mails are attached anew to be delivered): memory and the
                // next save's change detection stay the size of one batch.
                db.ChangeTracker.Clear();
                return (frozen, mails);
            }
            catch (DbUpdateConcurrencyException) when (attempt < 3)
            {
                db.ChangeTracker.Clear();
            }
            catch
            {
                db.ChangeTracker.Clear();
                throw;
            }
            finally
            {
                if (db.Database.IsSqlite())
                {
                    gate.Release();
                }
            }
        }
    }

    /// <summary>
    /// The guarded move pending → created for each invoice of the batch, with its lines and its owners' mails, tracked
    /// for one save. The guard is the row's version (EF puts the version read here in the UPDATE's WHERE): an invoice
    /// another runner froze since is a concurrency failure, and the batch starts over.
    /// </summary>
    private static async Task<(int Frozen, List<OutgoingEmail> Mails)> FreezeAsync(
        CmpDbContext db, BillingMonth month, IReadOnlyCollection<(Guid CustomerId, string Currency, List<ComputedItem> Items, decimal Total)> batch,
        ILookup<Guid, string> owners, Dictionary<Guid, string> names, string baseUrl, DateTime now, CancellationToken ct)
    {
        await InvoiceBook.EnsureAsync(db, month, batch.Select(b => (b.CustomerId, b.Currency)).ToList(), now, ct);
        var customerIds = batch.Select(b => b.CustomerId).Distinct().ToList();
        var rows = (await db.Invoices.Where(i => i.Year == month.Year && i.Month == month.Month && customerIds.Contains(i.CustomerId)).ToListAsync(ct))
            .ToDictionary(i => (i.CustomerId, i.Currency));
        var mails = new List<OutgoingEmail>();
        var frozen = 0;
        var monthName = month.Start.ToString("MMMM yyyy", CultureInfo.InvariantCulture);
        foreach (var (customerId, currency, items, total) in batch)
        {
            var invoice = rows[(customerId, currency)];
            if (invoice.State != InvoiceState.Pending)
            {
                continue; // frozen by an earlier run
            }
            invoice.State = InvoiceState.Created;
            invoice.Total = total;
            invoice.ClosedAt = now;
            frozen++;
            var position = 0;
            db.InvoiceItems.AddRange(items.Select(i => new InvoiceItem
            {
                InvoiceId = invoice.Id,
                ResourceId = i.Resource.Id,
                ResourceName = i.Resource.Name,
                ProviderId = i.Resource.ProviderId,
                OfferingId = i.Resource.OfferingId,
                OfferingName = i.Resource.OfferingName,
                PlanId = i.Plan.Id,
                PlanName = i.Plan.Name,
                ComponentId = i.Component?.Id,
                ComponentName = i.Component?.Name ?? i.BillingType.ToString(),
                BillingType = i.BillingType,
                Unit = i.Unit,
                Quantity = i.Quantity,
                UnitPrice = i.UnitPrice,
                DaysInMonth = i.DaysInMonth,
                Total = i.Total,
                Start = i.Start,
                End = i.End,
                Position = position++,
                CreatedAt = now,
            }));
            if (items.Count == 0)
            {
                continue; // nothing to pay: frozen, but nobody is mailed about it
            }
            var amount = new Money(total, currency).Format();
            foreach (var owner in owners[customerId])
            {
                var mail = new OutgoingEmail
                {
                    To = owner,
                    Subject = $"Your CMP invoice for {monthName}: {amount} {currency}",
                    Body = $"""
                        The invoice of {names.GetValueOrDefault(customerId, "your organization")} for {monthName} is ready: {amount} {currency}, {items.Count} item(s).

                        Read it, print it or download it as CSV: {baseUrl}/customer/invoices/{invoice.Id:N}
                        """,
                };
                db.Emails.Add(mail);
                mails.Add(mail);
            }
        }
        return (frozen, mails);
    }
}
