using Cmp.Abuse;

Options options;
try
{
    options = Options.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or IOException)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine();
    Console.Error.WriteLine(Options.Usage);
    return 2;
}

using var client = Gateway.Client(options.Command == "burst" ? options.Calls : options.Concurrency);
Console.WriteLine(options.Command == "burst"
    ? Gateway.Json(await Burst.RunAsync(client, options))
    : Gateway.Json(await HangUps.RunAsync(client, options)));
return 0;
