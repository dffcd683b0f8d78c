using BatchScheduler.Bench;

// dotnet Bench.dll <system> <scenario> --pg "<admin connection string>" --items N [--nodes K] [--rate R] [--posters P]
//   system:   batchscheduler | plain-quartz | hangfire
//   scenario: register | drain (all systems); scale | due (batchscheduler: 1M items + API latency + RSS; due-to-start at R items/s)
//             bulk (batchscheduler: a bulk pause and resume of N items beside a drain of 20,000)
//             io (batchscheduler: N items whose executor awaits 100 ms, one worker process at MaxConcurrency 1,000; use --items 100000)
//   --posters P: batchscheduler register/scale post their 10,000-item chunks from P concurrent clients (default 1)
//   --limited L: batchscheduler drain registers L due items of a data type limited to 2 at once (MaxConcurrency) first, beside the drained one
//   --limited-ms M: each of those takes M ms (the demo executor); 0 (default): no-op
//   seed (batchscheduler): the smallbox seed, 35 data types over --items entities (87,878: 3.08M items) with 1 and 2
//             worker processes; --minutes M of steady load (default 10), then catch-up after an hour down
// Prints one JSON line per measured figure (BenchResult) on stdout; diagnostics go to stderr.
// dotnet Bench.dll report <results.jsonl> --quick 0|1 --out docs/benchmarks.md
if (args is ["report", var resultsPath, ..])
{
    var quickIndex = Array.IndexOf(args, "--quick");
    var outIndex = Array.IndexOf(args, "--out");
    return await Report.WriteAsync(resultsPath, quickIndex > 0 && args[quickIndex + 1] == "1", outIndex > 0 ? args[outIndex + 1] : "docs/benchmarks.md");
}
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Bench <batchscheduler|plain-quartz|hangfire> <register|drain> --pg <admin connection string> --items N [--nodes K]");
    return 2;
}
string Option(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
var options = new BenchOptions(
    Option("--pg", Environment.GetEnvironmentVariable("BATCHSCHEDULER_BENCH_POSTGRES") ?? "Host=127.0.0.1;Port=55432;Username=postgres;Database=postgres"),
    int.Parse(Option("--items", "10000"), System.Globalization.CultureInfo.InvariantCulture),
    int.Parse(Option("--nodes", "1"), System.Globalization.CultureInfo.InvariantCulture),
    (int)double.Parse(Option("--rate", "0"), System.Globalization.CultureInfo.InvariantCulture),
    int.Parse(Option("--posters", "1"), System.Globalization.CultureInfo.InvariantCulture),
    int.Parse(Option("--limited", "0"), System.Globalization.CultureInfo.InvariantCulture),
    int.Parse(Option("--limited-ms", "0"), System.Globalization.CultureInfo.InvariantCulture),
    int.Parse(Option("--minutes", "10"), System.Globalization.CultureInfo.InvariantCulture));

IReadOnlyList<BenchResult> results = args[0] switch
{
    "batchscheduler" => await BatchSchedulerScenarios.RunAsync(args[1], options),
    "plain-quartz" => await PlainQuartzScenarios.RunAsync(args[1], options),
    "hangfire" => await HangfireScenarios.RunAsync(args[1], options),
    _ => throw new ArgumentException($"unknown system '{args[0]}'"),
};
foreach (var result in results)
    Console.WriteLine(result.ToJson());
return 0;
