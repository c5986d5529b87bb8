using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Cmp.Web.Infrastructure.Http;

/// <summary>
/// What a feature's operation returns: a value, or the problem (RFC 9457) that refused it. Operations know
/// nothing of HTTP: an endpoint maps an outcome to a response, a Blazor page shows the value or puts the
/// problem's field errors next to the fields they name. The problems are built with <see cref="Problems"/>
/// and <see cref="FieldErrors"/>, so the API and the UI refuse with the same words.
/// </summary>
public readonly struct Outcome<T>
{
    private Outcome(T? value, ProblemDetails? problem)
    {
        Value = value;
        Problem = problem;
    }

    public T? Value { get; }

    public ProblemDetails? Problem { get; }

    public bool Ok => Problem is null;

    public static implicit operator Outcome<T>(T value) => new(value, null);

    public static implicit operator Outcome<T>(ProblemHttpResult problem) => new(default, problem.ProblemDetails);

    public static Outcome<T> Fail(ProblemDetails problem) => new(default, problem);

    /// <summary>The problem as the endpoint's result, status and type unchanged.</summary>
    public ProblemHttpResult ToProblemResult() => TypedResults.Problem(Problem!);

    /// <summary>Field name → messages, empty when the problem names no field.</summary>
    public IReadOnlyDictionary<string, string[]> FieldErrors =>
        Problem is HttpValidationProblemDetails v ? v.Errors.AsReadOnly() : new Dictionary<string, string[]>().AsReadOnly();
}

/// <summary>For operations whose success carries nothing.</summary>
public readonly record struct Done
{
    public static readonly Done Value = default;
}
