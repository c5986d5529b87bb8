using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Infrastructure.Http;

/// <summary>
/// One page of a list and the total it was cut from, as an operation returns it: the endpoint writes the total and
/// the page links as headers (<see cref="Paging.WriteHeaders"/>), a page draws its own links.
/// </summary>
public sealed record Paged<T>(IReadOnlyList<T> Items, int Total, int Page, int PageSize)
{
    public int LastPage => Math.Max(1, (int)Math.Ceiling(Total / (double)PageSize));

    public bool HasPrevious => Page > 1;

    public bool HasNext => Page < LastPage;

    public Paged<TOut> Select<TOut>(Func<T, TOut> map) => new(Items.Select(map).ToList(), Total, Page, PageSize);
}

public static class PagedQueries
{
    /// <summary>Counts and takes page <paramref name="page"/> (from 1) of <paramref name="pageSize"/> rows.</summary>
    public static async Task<Paged<T>> ToPagedAsync<T>(this IQueryable<T> source, int page, int pageSize, CancellationToken ct)
    {
        var total = await source.CountAsync(ct);
        // In long: (page - 1) * size overflows int for a large page. A count is an int, so a skip at or past it is
        // past the end: no rows, no query.
        var skip = (page - 1L) * pageSize;
        var items = skip >= total ? [] : await source.Skip((int)skip).Take(pageSize).ToListAsync(ct);
        return new Paged<T>(items, total, page, pageSize);
    }
}
