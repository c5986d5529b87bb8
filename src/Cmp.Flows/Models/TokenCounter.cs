using Microsoft.ML.Tokenizers;

namespace Cmp.Flows.Models;

/// <summary>Counts tokens with OpenAI's o200k encoding (GPT-4o family), so usage and billing are real numbers.</summary>
public static class TokenCounter
{
    private static readonly Lazy<Tokenizer> O200k = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    public static int Count(string? text) => string.IsNullOrEmpty(text) ? 0 : O200k.Value.CountTokens(text);
}
