using System.Text;

namespace Cmp.Flows.Runtime;

/// <summary>
/// Langflow prompt templates. In the default syntax <c>{name}</c> is a variable and <c>{{</c> / <c>}}</c>
/// are literal braces (Python f-string rules). In double-bracket mode (1.8: <c>mode = "{{variable}}"</c>
/// or <c>use_double_brackets</c>) <c>{{name}}</c> is a variable and single braces are literal, so JSON
/// examples can be written as they are.
/// </summary>
public static class PromptTemplate
{
    public enum Syntax
    {
        SingleBraces,
        DoubleBrackets,
    }

    /// <summary>The variable names in order of first use.</summary>
    public static IReadOnlyList<string> Variables(string template, Syntax syntax)
    {
        var names = new List<string>();
        Render(template, syntax, name =>
        {
            if (!names.Contains(name))
            {
                names.Add(name);
            }
            return "";
        });
        return names;
    }

    public static string Render(string template, Syntax syntax, Func<string, string> value)
    {
        var sb = new StringBuilder(template.Length);
        var i = 0;
        while (i < template.Length)
        {
            var c = template[i];
            if (syntax == Syntax.SingleBraces)
            {
                if (c == '{' && i + 1 < template.Length && template[i + 1] == '{')
                {
                    sb.Append('{');
                    i += 2;
                    continue;
                }
                if (c == '}' && i + 1 < template.Length && template[i + 1] == '}')
                {
                    sb.Append('}');
                    i += 2;
                    continue;
                }
                if (c == '{')
                {
                    var end = template.IndexOf('}', i + 1);
                    var name = end > i ? template[(i + 1)..end] : null;
                    if (name is not null && IsName(name))
                    {
                        sb.Append(value(name.Trim()));
                        i = end + 1;
                        continue;
                    }
                }
            }
            else if (c == '{' && i + 1 < template.Length && template[i + 1] == '{')
            {
                var end = template.IndexOf("}}", i + 2, StringComparison.Ordinal);
                var name = end > i ? template[(i + 2)..end] : null;
                if (name is not null && IsName(name))
                {
                    sb.Append(value(name.Trim()));
                    i = end + 2;
                    continue;
                }
            }
            sb.Append(c);
            i++;
        }
        return sb.ToString();
    }

    /// <summary>
    /// Text to put into a template so that it renders as itself. Single braces: every brace is doubled. Double
    /// brackets have no escape, so a <c>{{</c> is broken up as <c>{ {</c>; single braces are literal there anyway.
    /// </summary>
    public static string Escape(string text, Syntax syntax) => syntax == Syntax.SingleBraces
        ? text.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal)
        : BreakDoubleOpen(text);

    private static string BreakDoubleOpen(string text)
    {
        while (text.Contains("{{", StringComparison.Ordinal))
        {
            text = text.Replace("{{", "{ {", StringComparison.Ordinal);
        }
        return text;
    }

    /// <summary>What Langflow accepts as a variable: a non-empty name without braces or line breaks.</summary>
    private static bool IsName(string name)
    {
        var trimmed = name.Trim();
        return trimmed.Length is > 0 and <= 100 && !trimmed.Any(ch => ch is '{' or '}' or '\n' or '\r' or '"' or '\'' or ':');
    }
}
