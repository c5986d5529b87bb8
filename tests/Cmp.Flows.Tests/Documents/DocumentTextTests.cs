using System.Text;
using Cmp.Flows.Documents;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;
using PdfPageSize = UglyToad.PdfPig.Content.PageSize;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;

namespace Cmp.Flows.Tests.Documents;

public sealed class DocumentTextTests
{
    [Fact]
    public void Pdf_PagesInOrder_SeparatedByBlankLine()
    {
        var pdf = BuildPdf("Hello from page one", "Second page text");

        Assert.Equal("Hello from page one\n\nSecond page text", DocumentText.Extract("report.pdf", pdf));
        Assert.Equal("Hello from page one\n\nSecond page text", DocumentText.Extract("REPORT.PDF", pdf.AsSpan()));
    }

    [Fact]
    public void Docx_ParagraphsOnSeparateLines()
    {
        var docx = BuildDocx(
            new Paragraph(new Run(new Text("First paragraph."))),
            new Paragraph(new Run(new Text("Second ") { Space = SpaceProcessingModeValues.Preserve }), new Run(new Text("paragraph."))));

        Assert.Equal("First paragraph.\nSecond paragraph.", DocumentText.Extract("notes.docx", docx));
    }

    [Fact]
    public void Docx_TablesRowByRow_CellsTabSeparated()
    {
        var docx = BuildDocx(
            new Paragraph(new Run(new Text("Prices"))),
            new Table(
                new TableRow(Cell("Plan"), Cell("Price")),
                new TableRow(Cell("Pro"), Cell("10"))),
            new Paragraph(new Run(new Text("Tab"), new TabChar(), new Text("bed"))));

        Assert.Equal("Prices\nPlan\tPrice\nPro\t10\nTab\tbed", DocumentText.Extract("prices.docx", docx));

        static TableCell Cell(string text) => new(new Paragraph(new Run(new Text(text))));
    }

    [Fact]
    public void Markdown_WithBom_IsDecodedWithoutIt()
    {
        var markdown = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("# Título\n\nCafé ☕")).ToArray();

        Assert.Equal("# Título\n\nCafé ☕", DocumentText.Extract("README.md", markdown));
    }

    [Theory]
    [InlineData("a.txt")]
    [InlineData("a.markdown")]
    [InlineData("a.csv")]
    [InlineData("a.json")]
    public void TextKinds_AreUtf8(string fileName)
    {
        Assert.Equal("x,y\n1,2", DocumentText.Extract(fileName, "x,y\n1,2"u8.ToArray()));
    }

    [Fact]
    public void CorruptPdf_IsUnsupported_NamingTheFile()
    {
        var junk = new byte[4096];
        new Random(42).NextBytes(junk);

        var ex = Assert.Throws<UnsupportedDocumentException>(() => DocumentText.Extract("scan.pdf", junk));
        Assert.Contains("scan.pdf", ex.Message);
    }

    [Fact]
    public void TruncatedPdf_IsUnsupported()
    {
        var pdf = BuildPdf("Hello", "World");

        Assert.Throws<UnsupportedDocumentException>(() => DocumentText.Extract("cut.pdf", pdf[..(pdf.Length / 3)]));
    }

    [Fact]
    public void CorruptDocx_IsUnsupported_NamingTheFile()
    {
        var ex = Assert.Throws<UnsupportedDocumentException>(() => DocumentText.Extract("memo.docx", "PK\u0003\u0004 not really a zip"u8.ToArray()));
        Assert.Contains("memo.docx", ex.Message);
    }

    [Fact]
    public void BinaryRenamedToText_IsUnsupported()
    {
        var ex = Assert.Throws<UnsupportedDocumentException>(() => DocumentText.Extract("data.csv", [0x41, 0x00, 0xFF, 0xFE]));
        Assert.Contains("data.csv", ex.Message);
    }

    [Theory]
    [InlineData("setup.exe")]
    [InlineData("archive.zip")]
    [InlineData("old.doc")]
    [InlineData("no-extension")]
    public void UnknownExtensions_AreUnsupported(string fileName)
    {
        var ex = Assert.Throws<UnsupportedDocumentException>(() => DocumentText.Extract(fileName, "MZ"u8.ToArray()));
        Assert.Contains(fileName, ex.Message);
        Assert.False(DocumentText.LooksLike(fileName, "MZ"u8.ToArray()));
    }

    [Fact]
    public void SupportedExtensions_IgnoreCase()
    {
        foreach (var extension in new[] { ".txt", ".md", ".markdown", ".csv", ".json", ".pdf", ".docx" })
        {
            Assert.Contains(extension, DocumentText.SupportedExtensions);
            Assert.Contains(extension.ToUpperInvariant(), DocumentText.SupportedExtensions);
        }
        Assert.Equal(7, DocumentText.SupportedExtensions.Count);
        Assert.DoesNotContain(".exe", DocumentText.SupportedExtensions);
    }

    [Fact]
    public void LooksLike_MatchesMagicBytesToTheExtension()
    {
        var pdf = BuildPdf("a", "b");
        var docx = BuildDocx(new Paragraph(new Run(new Text("a"))));
        var text = "plain ✓ text"u8.ToArray();

        Assert.True(DocumentText.LooksLike("a.pdf", pdf));
        Assert.True(DocumentText.LooksLike("a.docx", docx));
        Assert.True(DocumentText.LooksLike("a.md", text));
        Assert.True(DocumentText.LooksLike("a.txt", Encoding.UTF8.GetPreamble().Concat(text).ToArray()));
        Assert.True(DocumentText.LooksLike("a.JSON", "{}"u8.ToArray()));

        Assert.False(DocumentText.LooksLike("a.pdf", docx));
        Assert.False(DocumentText.LooksLike("a.pdf", text));
        Assert.False(DocumentText.LooksLike("a.docx", pdf));
        Assert.False(DocumentText.LooksLike("a.txt", "abc\0def"u8.ToArray()));
        Assert.False(DocumentText.LooksLike("a.csv", [0xC3, 0x28]));
        Assert.False(DocumentText.LooksLike("a.md", docx));
        Assert.False(DocumentText.LooksLike("a.exe", pdf));
    }

    private static byte[] BuildPdf(params string[] pageTexts)
    {
        using var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        foreach (var text in pageTexts)
        {
            var page = builder.AddPage(PdfPageSize.A4);
            page.AddText(text, 12, new PdfPoint(72, 720), font);
        }
        return builder.Build();
    }

    private static byte[] BuildDocx(params OpenXmlElement[] blocks)
    {
        using var stream = new MemoryStream();
        using (var document = WordprocessingDocument.Create(stream, WordprocessingDocumentType.Document))
        {
            document.AddMainDocumentPart().Document = new Document(new Body(blocks));
        }
        return stream.ToArray();
    }
}
