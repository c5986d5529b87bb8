namespace Cmp.Flows;

internal static class Placeholder;
