using Cmp.LoadGen;

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or IOException)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine();
    Console.Error.WriteLine(LoadOptions.Usage);
    return 2;
}
if (options.Help)
{
    Console.WriteLine(LoadOptions.Usage);
    return 0;
}

using var runner = new LoadRunner(options);
var summary = options.ClosedLoop ? await runner.ClosedLoopAsync() : await runner.OpenLoopAsync();
summary = summary with { ClientCpuMs = Environment.CpuUsage.TotalTime.TotalMilliseconds };
summary.Print(Console.Out);
if (options.Json)
{
    Console.WriteLine("json: " + summary.ToJson());
}
return 0;
