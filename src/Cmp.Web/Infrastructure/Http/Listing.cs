using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Cmp.Web.Infrastructure.Http;

/// <summary>
/// Waldur's list conventions: <c>page</c> (from 1), <c>page_size</c> (default 10, at most 300),
/// <c>o=</c> ordering by an allowed field (<c>-field</c> descending, comma separated) and <c>search</c>.
/// The answer is a bare JSON array; the total goes in <c>X-Result-Count</c> and the pages in <c>Link</c>.
/// </summary>
public sealed class ListQuery
{
    public const int DefaultPageSize = 10;
    public const int MaxPageSize = 300;

    public int Page { get; private init; } = 1;
    public int PageSize { get; private init; } = DefaultPageSize;
    public string[] Ordering { get; private init; } = [];
    public string? Search { get; private init; }
    public ProblemHttpResult? Error { get; private init; }

    public static ValueTask<ListQuery> BindAsync(HttpContext context)
    {
        var q = context.Request.Query;
        var errors = new FieldErrors();
        var page = ParsePositive(q["page"], "page", 1, errors);
        var size = ParsePositive(q["page_size"], "page_size", DefaultPageSize, errors);
        var ordering = q["o"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var search = q["search"].ToString().Trim();
        if (search.Length > 200)
        {
            errors.Add("search", "Ensure this field has no more than 200 characters.");
        }
        return ValueTask.FromResult(new ListQuery
        {
            Page = page,
            PageSize = Math.Min(size, MaxPageSize),
            Ordering = ordering,
            Search = search.Length == 0 ? null : search,
            Error = errors.Any ? errors.ToProblem() : null,
        });
    }

    private static int ParsePositive(string? raw, string field, int fallback, FieldErrors errors)
    {
        if (string.IsNullOrEmpty(raw))
        {
            return fallback;
        }
        if (int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1)
        {
            return value;
        }
        errors.Add(field, "A positive whole number is required.");
        return fallback;
    }
}

/// <summary>The fields a list may be ordered by, each mapped to an expression EF can translate.</summary>
public sealed class Ordering<T>
{
    private readonly Dictionary<string, LambdaExpression> _fields = new(StringComparer.Ordinal);
    private readonly string _default;

    public Ordering(string defaultOrdering) => _default = defaultOrdering;

    public Ordering<T> Field<TKey>(string name, Expression<Func<T, TKey>> key)
    {
        _fields[name] = key;
        return this;
    }

    private LambdaExpression? _tiebreak;

    /// <summary>A unique key ordered last, so that rows with equal sort values keep one order from page to page.</summary>
    public Ordering<T> Tiebreak<TKey>(Expression<Func<T, TKey>> key)
    {
        _tiebreak = key;
        return this;
    }

    public IEnumerable<string> Names => _fields.Keys;

    /// <summary>Applies the requested ordering; an unknown field is a 400, never silently ignored.</summary>
    public bool TryApply(IQueryable<T> source, string[] requested, out IQueryable<T> ordered, out ProblemHttpResult? problem)
    {
        var terms = requested.Length == 0 ? [_default] : requested;
        IOrderedQueryable<T>? result = null;
        foreach (var term in terms)
        {
            var descending = term.StartsWith('-');
            var name = descending ? term[1..] : term;
            if (!_fields.TryGetValue(name, out var key))
            {
                ordered = source;
                problem = Problems.Validation("o", $"Unknown ordering field '{name}'. Allowed: {string.Join(", ", _fields.Keys)}.");
                return false;
            }
            result = Apply(result, source, key, descending);
        }
        if (_tiebreak is not null)
        {
            result = Apply(result, source, _tiebreak, false);
        }
        ordered = result!;
        problem = null;
        return true;
    }

    private static IOrderedQueryable<T> Apply(IOrderedQueryable<T>? result, IQueryable<T> source, LambdaExpression key, bool descending)
    {
        var method = (result, descending) switch
        {
            (null, false) => nameof(Queryable.OrderBy),
            (null, true) => nameof(Queryable.OrderByDescending),
            (_, false) => nameof(Queryable.ThenBy),
            (_, true) => nameof(Queryable.ThenByDescending),
        };
        var generic = typeof(Queryable).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Single(m => m.Name == method && m.GetParameters().Length == 2)
            .MakeGenericMethod(typeof(T), key.ReturnType);
        return (IOrderedQueryable<T>)generic.Invoke(null, [(object?)result ?? source, key])!;
    }
}

public static class Paging
{
    /// <summary>Counts, takes one page and writes <c>X-Result-Count</c> and <c>Link</c>.</summary>
    public static async Task<List<T>> ToPageAsync<T>(this IQueryable<T> source, ListQuery query, HttpContext context, CancellationToken ct)
    {
        var total = await source.CountAsync(ct);
        // In long: (page - 1) * size overflows int for a large page (int.MaxValue * 10 wrapped to a negative skip,
        // which answered page 1). A count is an int, so a skip at or past it is past the end: no rows, no query.
        var skip = (query.Page - 1L) * query.PageSize;
        var items = skip >= total ? [] : await source.Skip((int)skip).Take(query.PageSize).ToListAsync(ct);
        WriteHeaders(context, total, query);
        return items;
    }

    public static void WriteHeaders(HttpContext context, int total, ListQuery query)
    {
        var response = context.Response;
        response.Headers["X-Result-Count"] = total.ToString(CultureInfo.InvariantCulture);
        var last = Math.Max(1, (int)Math.Ceiling(total / (double)query.PageSize));
        var links = new List<string> { Link(context, 1, "first") };
        if (query.Page > 1)
        {
            links.Add(Link(context, Math.Min(query.Page - 1, last), "prev"));
        }
        if (query.Page < last)
        {
            links.Add(Link(context, query.Page + 1, "next"));
        }
        links.Add(Link(context, last, "last"));
        response.Headers.Link = string.Join(", ", links);
    }

    private static string Link(HttpContext context, int page, string rel)
    {
        var request = context.Request;
        var pairs = request.Query
            .Where(p => p.Key != "page")
            .Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value.ToString())}")
            .Append($"page={page}");
        return $"<{request.Scheme}://{request.Host}{request.PathBase}{request.Path}?{string.Join('&', pairs)}>; rel=\"{rel}\"";
    }
}
