using Microsoft.AspNetCore.Mvc;

namespace Cmp.Web.Components.Shared;

/// <summary>
/// The server's last refusal for a form: field messages go next to the fields they name (<see cref="For"/>),
/// the rest (a 409, a 403, a field the form does not show) into the form's <see cref="ProblemAlert"/>.
/// </summary>
public sealed class FormProblems
{
    private readonly HashSet<string> _shown = new(StringComparer.Ordinal);

    public ProblemDetails? Problem { get; private set; }

    public void Clear() => Problem = null;

    public void Set(ProblemDetails? problem) => Problem = problem;

    private IDictionary<string, string[]> Errors =>
        Problem is HttpValidationProblemDetails v ? v.Errors : new Dictionary<string, string[]>();

    /// <summary>The messages for a field the form shows, or null.</summary>
    public string? For(string field)
    {
        _shown.Add(field);
        return Errors.TryGetValue(field, out var messages) ? string.Join(" ", messages) : null;
    }

    public bool Has(string field) => For(field) is not null;

    /// <summary>What the alert shows: the detail of a non-field problem, or messages for fields the form lacks.</summary>
    public string? General
    {
        get
        {
            if (Problem is null)
            {
                return null;
            }
            if (Problem is not HttpValidationProblemDetails v)
            {
                return Problem.Detail ?? Problem.Title;
            }
            var others = v.Errors.Where(e => !_shown.Contains(e.Key)).SelectMany(e => e.Value.Select(m => $"{e.Key}: {m}")).ToList();
            return others.Count == 0 ? null : string.Join(" ", others);
        }
    }
}
