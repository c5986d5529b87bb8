using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cmp.Web.Infrastructure.Http;

/// <summary>
/// Text people type never holds control characters: C0 controls other than tab, line feed and carriage return, DEL,
/// and the C1 controls. A NUL in a name, an escape sequence in a greeting or a backspace in a prompt is refused, in
/// JSON bodies (<see cref="StrictStringConverter"/>) and in every field checked by <see cref="FieldErrors.Text"/>.
/// </summary>
public static class TextInput
{
    public static bool IsRefused(char c) => c is (< ' ' and not '\t' and not '\n' and not '\r') or (>= '\u007f' and <= '\u009f');

    /// <summary>The first refused character, or null.</summary>
    public static char? FirstRefused(string value)
    {
        foreach (var c in value)
        {
            if (IsRefused(c))
            {
                return c;
            }
        }
        return null;
    }

    public static string Message(char c) =>
        $"Control characters are not allowed (U+{((int)c).ToString("X4", CultureInfo.InvariantCulture)}); remove it and send the text again.";
}

/// <summary>A JSON string with a control character in it; the error handler answers it as a validation problem naming the field.</summary>
public sealed class ControlCharacterException(string message) : JsonException(message);

/// <summary>Reads every JSON string of a request body, refusing control characters (<see cref="TextInput"/>).</summary>
public sealed class StrictStringConverter : JsonConverter<string>
{
    public override bool HandleNull => false;

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = reader.GetString();
        if (value is not null && TextInput.FirstRefused(value) is { } c)
        {
            throw new ControlCharacterException(TextInput.Message(c));
        }
        return value;
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
