using System.Globalization;

namespace Cmp.Flows.Components;

/// <summary>Outcome of <see cref="SafeCalculator.Evaluate"/>: either a value with its display text, or an error message.</summary>
/// <param name="Ok">Whether the expression was evaluated.</param>
/// <param name="Value">The result (0 when <paramref name="Ok"/> is false, so it always serializes as JSON).</param>
/// <param name="Text">The result formatted like Langflow's calculator, or the error message.</param>
/// <param name="Error">The error message, or null on success.</param>
public sealed record CalculatorResult(bool Ok, double Value, string Text, string? Error);

/// <summary>
/// Arithmetic evaluator with the semantics of Langflow's CalculatorComponent (Python arithmetic on numbers only).
/// It parses its own tiny grammar and never hands the input to a code evaluator, so names, calls and strings cannot run.
/// </summary>
public static class SafeCalculator
{
    public const int MaxLength = 500;
    public const int MaxDepth = 50;
    public const double MaxExponent = 1000;

    public static CalculatorResult Evaluate(string expression)
    {
        try
        {
            if (string.IsNullOrWhiteSpace(expression))
            {
                throw new CalculatorException("Invalid expression: the expression is empty");
            }
            if (expression.Length > MaxLength)
            {
                throw new CalculatorException($"Invalid expression: longer than {MaxLength} characters");
            }
            // Parse everything before evaluating, as Python does, so a syntax error wins over a division by zero.
            var tree = new Parser(Tokenize(expression), expression).ParseAll();
            var value = Eval(tree);
            return new CalculatorResult(true, value, Format(value), null);
        }
        catch (CalculatorException ex)
        {
            return new CalculatorResult(false, 0, ex.Message, ex.Message);
        }
    }

    /// <summary>Langflow prints <c>f"{float(result):.6f}".rstrip("0").rstrip(".")</c>; "-0" is shown as "0".</summary>
    public static string Format(double value)
    {
        var text = value.ToString("F6", CultureInfo.InvariantCulture);
        if (text.Contains('.', StringComparison.Ordinal))
        {
            text = text.TrimEnd('0').TrimEnd('.');
        }
        return text == "-0" ? "0" : text;
    }

    private static double Eval(Node node) => node switch
    {
        NumberNode n => n.Value,
        NegateNode n => -Eval(n.Operand),
        BinaryNode b => Apply(b.Op, Eval(b.Left), Eval(b.Right)),
        _ => throw new CalculatorException("Unsupported expression"),
    };

    private static double Apply(TokenKind op, double left, double right)
    {
        var result = op switch
        {
            TokenKind.Plus => left + right,
            TokenKind.Minus => left - right,
            TokenKind.Star => left * right,
            TokenKind.Slash => right == 0 ? throw DivisionByZero() : left / right,
            TokenKind.DoubleSlash => FloorDivMod(left, right).FloorDiv,
            TokenKind.Percent => FloorDivMod(left, right).Mod,
            TokenKind.DoubleStar => Power(left, right),
            _ => throw new CalculatorException("Unsupported operator"),
        };
        // Python would give inf for float overflow in + - *, but an infinite "answer" is useless to an agent.
        return double.IsFinite(result) ? result : throw Overflow();
    }

    private static double Power(double x, double y)
    {
        // Python ints make big powers exact but arbitrarily slow; doubles would overflow anyway, so refuse early.
        if (Math.Abs(y) > MaxExponent)
        {
            throw new CalculatorException($"Invalid expression: exponent {Format(y)} is beyond the limit of {MaxExponent}");
        }
        if (x == 0 && y < 0)
        {
            throw DivisionByZero();
        }
        if (x < 0 && y != Math.Floor(y))
        {
            // Python returns a complex number here, which the calculator cannot display.
            throw new CalculatorException("Invalid expression: the result is not a real number");
        }
        return Math.Pow(x, y);
    }

    /// <summary>CPython's float_divmod: the remainder takes the sign of the divisor (-7 // 2 = -4, -7 % 2 = 1).</summary>
    private static (double FloorDiv, double Mod) FloorDivMod(double x, double y)
    {
        if (y == 0)
        {
            throw DivisionByZero();
        }
        var mod = x % y;
        var div = (x - mod) / y;
        if (mod != 0)
        {
            if (y < 0 != mod < 0)
            {
                mod += y;
                div -= 1.0;
            }
        }
        else
        {
            mod = Math.CopySign(0.0, y);
        }
        double floorDiv;
        if (div != 0)
        {
            floorDiv = Math.Floor(div);
            if (div - floorDiv > 0.5)
            {
                floorDiv += 1.0;
            }
        }
        else
        {
            floorDiv = Math.CopySign(0.0, x / y);
        }
        return (floorDiv, mod);
    }

    private static CalculatorException DivisionByZero() => new("Error: division by zero");

    private static CalculatorException Overflow() => new("Invalid expression: the result is too large");

    private static List<Token> Tokenize(string s)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < s.Length)
        {
            var c = s[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }
            var start = i;
            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < s.Length && char.IsAsciiDigit(s[i + 1])))
            {
                var number = ReadNumber(s, ref i);
                tokens.Add(new Token(TokenKind.Number, start, i - start, number));
                continue;
            }
            TokenKind? kind = c switch
            {
                '+' => TokenKind.Plus,
                '-' => TokenKind.Minus,
                '%' => TokenKind.Percent,
                '(' => TokenKind.LParen,
                ')' => TokenKind.RParen,
                '*' when At(s, i + 1, '*') => TokenKind.DoubleStar,
                '*' => TokenKind.Star,
                '/' when At(s, i + 1, '/') => TokenKind.DoubleSlash,
                '/' => TokenKind.Slash,
                _ => null,
            };
            if (kind is { } k)
            {
                var length = k is TokenKind.DoubleStar or TokenKind.DoubleSlash ? 2 : 1;
                tokens.Add(new Token(k, start, length, 0));
                i += length;
                continue;
            }
            if (char.IsLetter(c) || c == '_')
            {
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_'))
                {
                    i++;
                }
                throw new CalculatorException($"Unsupported expression: names and function calls are not allowed ('{s[start..i]}')");
            }
            throw c switch
            {
                '"' or '\'' => new CalculatorException("Unsupported expression: strings are not allowed"),
                ',' => new CalculatorException("Unsupported expression: ',' (only a single arithmetic expression is allowed)"),
                '.' => new CalculatorException("Unsupported expression: attribute access is not allowed"),
                '<' or '>' or '=' or '!' or '&' or '|' or '^' or '~' or '@' or '[' or ']' or '{' or '}' or ':' or ';' =>
                    new CalculatorException($"Unsupported operator '{c}' at position {start + 1}"),
                _ => new CalculatorException($"Invalid expression: unexpected character '{c}' at position {start + 1}"),
            };
        }
        tokens.Add(new Token(TokenKind.End, s.Length, 0, 0));
        return tokens;
    }

    private static bool At(string s, int index, char c) => index < s.Length && s[index] == c;

    /// <summary>Python literals: 12, 1.5, .5, 5., 1e3, 2.5E-3 (no underscores, hex or leading-zero integers).</summary>
    private static double ReadNumber(string s, ref int i)
    {
        var start = i;
        var isInteger = true;
        SkipDigits(s, ref i);
        if (At(s, i, '.'))
        {
            isInteger = false;
            i++;
            SkipDigits(s, ref i);
        }
        if (At(s, i, 'e') || At(s, i, 'E'))
        {
            isInteger = false;
            i++;
            if (At(s, i, '+') || At(s, i, '-'))
            {
                i++;
            }
            var digitsStart = i;
            SkipDigits(s, ref i);
            if (i == digitsStart)
            {
                throw InvalidNumber(s, start, i);
            }
        }
        if (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_' || s[i] == '.'))
        {
            throw InvalidNumber(s, start, i + 1);
        }
        var literal = s[start..i];
        if (isInteger && literal.Length > 1 && literal[0] == '0' && literal.Any(d => d != '0'))
        {
            throw InvalidNumber(s, start, i);
        }
        var value = double.Parse(literal, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture);
        return double.IsFinite(value) ? value : throw Overflow();
    }

    private static void SkipDigits(string s, ref int i)
    {
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            i++;
        }
    }

    private static CalculatorException InvalidNumber(string s, int start, int end) =>
        new($"Invalid expression: invalid number '{s[start..Math.Min(end, s.Length)]}' at position {start + 1}");

    private enum TokenKind
    {
        Number,
        Plus,
        Minus,
        Star,
        Slash,
        DoubleSlash,
        Percent,
        DoubleStar,
        LParen,
        RParen,
        End,
    }

    private readonly record struct Token(TokenKind Kind, int Position, int Length, double Number);

    private abstract record Node;

    private sealed record NumberNode(double Value) : Node;

    private sealed record NegateNode(Node Operand) : Node;

    private sealed record BinaryNode(TokenKind Op, Node Left, Node Right) : Node;

    /// <summary>
    /// Recursive descent over Python's arithmetic grammar:
    /// expr := term (('+'|'-') term)*; term := factor (('*'|'/'|'//'|'%') factor)*;
    /// factor := ('+'|'-') factor | power; power := atom ['**' factor]; atom := number | '(' expr ')'.
    /// So ** is right associative and binds tighter than a unary minus on its left (-2**2 = -4) but not on its right (2**-1).
    /// </summary>
    private sealed class Parser(List<Token> tokens, string source)
    {
        private int _index;
        private int _depth;

        private Token Current => tokens[_index];

        public Node ParseAll()
        {
            var node = ParseExpression();
            return Current.Kind == TokenKind.End ? node : throw Unexpected();
        }

        private Node ParseExpression()
        {
            var node = ParseTerm();
            while (Current.Kind is TokenKind.Plus or TokenKind.Minus)
            {
                var op = tokens[_index++].Kind;
                node = new BinaryNode(op, node, ParseTerm());
            }
            return node;
        }

        private Node ParseTerm()
        {
            var node = ParseFactor();
            while (Current.Kind is TokenKind.Star or TokenKind.Slash or TokenKind.DoubleSlash or TokenKind.Percent)
            {
                var op = tokens[_index++].Kind;
                node = new BinaryNode(op, node, ParseFactor());
            }
            return node;
        }

        private Node ParseFactor()
        {
            switch (Current.Kind)
            {
                case TokenKind.Plus:
                    _index++;
                    return ParseFactor();
                case TokenKind.Minus:
                    _index++;
                    return new NegateNode(ParseFactor());
                default:
                    var atom = ParseAtom();
                    if (Current.Kind != TokenKind.DoubleStar)
                    {
                        return atom;
                    }
                    _index++;
                    return new BinaryNode(TokenKind.DoubleStar, atom, ParseFactor());
            }
        }

        private Node ParseAtom()
        {
            var token = tokens[_index];
            Node node;
            if (token.Kind == TokenKind.Number)
            {
                _index++;
                node = new NumberNode(token.Number);
            }
            else if (token.Kind == TokenKind.LParen)
            {
                if (++_depth > MaxDepth)
                {
                    throw new CalculatorException($"Invalid expression: parentheses nested deeper than {MaxDepth} levels");
                }
                _index++;
                node = ParseExpression();
                if (Current.Kind != TokenKind.RParen)
                {
                    throw Current.Kind == TokenKind.End
                        ? new CalculatorException("Invalid expression: missing ')'")
                        : Unexpected();
                }
                _index++;
                _depth--;
            }
            else
            {
                throw Unexpected();
            }
            if (Current.Kind == TokenKind.LParen)
            {
                throw new CalculatorException("Unsupported expression: function calls are not allowed");
            }
            return node;
        }

        private CalculatorException Unexpected() => Current.Kind switch
        {
            TokenKind.End => new("Invalid expression: unexpected end of expression"),
            TokenKind.RParen when _depth == 0 => new($"Invalid expression: unbalanced ')' at position {Current.Position + 1}"),
            _ => new($"Invalid expression: unexpected '{source.Substring(Current.Position, Current.Length)}' at position {Current.Position + 1}"),
        };
    }

    private sealed class CalculatorException(string message) : Exception(message);
}
