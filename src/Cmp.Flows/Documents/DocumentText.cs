using System.Collections.Frozen;
using System.Text;
using System.Text.Unicode;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;
using UglyToad.PdfPig;
using UglyToad.PdfPig.DocumentLayoutAnalysis.TextExtractor;

namespace Cmp.Flows.Documents;

/// <summary>Plain text of the documents a seller uploads for a Langflow File node.</summary>
public static class DocumentText
{
    /// <summary>Extensions (with the dot, any case) that <see cref="Extract(string, byte[])"/> understands.</summary>
    public static readonly IReadOnlySet<string> SupportedExtensions =
        new[] { ".txt", ".md", ".markdown", ".csv", ".json", ".pdf", ".docx" }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    // A DOCX is a zip: bound the decompressed XML so a small upload cannot expand into gigabytes in memory.
    private const long MaxDocxPartCharacters = 64L * 1024 * 1024;

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];
    private static ReadOnlySpan<byte> PdfMagic => "%PDF-"u8;
    private static ReadOnlySpan<byte> ZipMagic => [(byte)'P', (byte)'K', 3, 4];

    /// <summary>Returns the text of the document; throws <see cref="UnsupportedDocumentException"/> for unknown kinds or corrupt content.</summary>
    public static string Extract(string fileName, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(content);
        return Kind(fileName) switch
        {
            ".pdf" => ExtractPdf(fileName, content),
            ".docx" => ExtractDocx(fileName, content),
            _ => ExtractUtf8(fileName, content),
        };
    }

    /// <inheritdoc cref="Extract(string, byte[])"/>
    public static string Extract(string fileName, ReadOnlySpan<byte> content) => Extract(fileName, content.ToArray());

    /// <summary>
    /// Whether the content's leading bytes match what the extension claims (%PDF- for .pdf, a zip entry for .docx,
    /// valid UTF-8 without NUL bytes for the text kinds). False for unsupported extensions.
    /// </summary>
    public static bool LooksLike(string fileName, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(content);
        var extension = Path.GetExtension(fileName);
        if (!SupportedExtensions.Contains(extension))
        {
            return false;
        }
        return extension.ToLowerInvariant() switch
        {
            ".pdf" => content.AsSpan().StartsWith(PdfMagic),
            ".docx" => content.AsSpan().StartsWith(ZipMagic),
            _ => IsText(content),
        };
    }

    private static string Kind(string fileName)
    {
        var extension = Path.GetExtension(fileName);
        return SupportedExtensions.Contains(extension)
            ? extension.ToLowerInvariant()
            : throw new UnsupportedDocumentException(
                $"'{fileName}' is not a supported document; use one of {string.Join(", ", SupportedExtensions.Order(StringComparer.Ordinal))}.");
    }

    private static bool IsText(ReadOnlySpan<byte> content) => Utf8.IsValid(content) && !content.Contains((byte)0);

    private static string ExtractUtf8(string fileName, ReadOnlySpan<byte> content)
    {
        if (content.StartsWith(Utf8Bom))
        {
            content = content[Utf8Bom.Length..];
        }
        // A NUL byte or invalid UTF-8 means a binary file renamed to a text extension; garbage text would only confuse the model.
        return IsText(content)
            ? Encoding.UTF8.GetString(content)
            : throw new UnsupportedDocumentException($"'{fileName}' is not UTF-8 text.");
    }

    private static string ExtractPdf(string fileName, byte[] content)
    {
        try
        {
            using var document = PdfDocument.Open(content);
            var pages = new List<string>(document.NumberOfPages);
            foreach (var page in document.GetPages())
            {
                // Content order keeps the author's reading order and inserts spaces/new lines that page.Text omits.
                pages.Add(ContentOrderTextExtractor.GetText(page).Trim());
            }
            return string.Join("\n\n", pages);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new UnsupportedDocumentException($"'{fileName}' could not be read as a PDF: {ex.Message}", ex);
        }
    }

    private static string ExtractDocx(string fileName, byte[] content)
    {
        Body? body;
        var lines = new List<string>();
        try
        {
            using var stream = new MemoryStream(content, writable: false);
            using var document = WordprocessingDocument.Open(stream, false, new OpenSettings { MaxCharactersInPart = MaxDocxPartCharacters });
            body = document.MainDocumentPart?.Document?.Body;
            if (body is not null)
            {
                AppendBlocks(body, lines);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new UnsupportedDocumentException($"'{fileName}' could not be read as a Word document: {ex.Message}", ex);
        }
        return body is null
            ? throw new UnsupportedDocumentException($"'{fileName}' could not be read as a Word document: it has no document body.")
            : string.Join("\n", lines);
    }

    /// <summary>Paragraphs one per line, tables row by row (cells tab-separated), descending into content controls and the like.</summary>
    private static void AppendBlocks(OpenXmlElement container, List<string> lines)
    {
        foreach (var element in container.ChildElements)
        {
            switch (element)
            {
                case Paragraph paragraph:
                    lines.Add(ParagraphText(paragraph));
                    break;
                case Table table:
                    foreach (var row in table.Elements<TableRow>())
                    {
                        var cells = row.Elements<TableCell>()
                            .Select(cell => string.Join(" ", cell.Descendants<Paragraph>().Select(ParagraphText).Where(t => t.Length > 0)));
                        lines.Add(string.Join("\t", cells));
                    }
                    break;
                default:
                    AppendBlocks(element, lines);
                    break;
            }
        }
    }

    /// <summary>Like python-docx's paragraph.text: runs' text with tabs and breaks kept (InnerText would drop them).</summary>
    private static string ParagraphText(Paragraph paragraph)
    {
        var text = new StringBuilder();
        foreach (var element in paragraph.Descendants())
        {
            switch (element)
            {
                case Text t:
                    text.Append(t.Text);
                    break;
                case TabChar:
                    text.Append('\t');
                    break;
                case Break or CarriageReturn:
                    text.Append('\n');
                    break;
                case NoBreakHyphen:
                    text.Append('-');
                    break;
                default:
                    break;
            }
        }
        return text.ToString();
    }
}

/// <summary>The upload is of a kind <see cref="DocumentText"/> does not read, or its content is corrupt.</summary>
public sealed class UnsupportedDocumentException : Exception
{
    public UnsupportedDocumentException()
    {
    }

    public UnsupportedDocumentException(string message)
        : base(message)
    {
    }

    public UnsupportedDocumentException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
