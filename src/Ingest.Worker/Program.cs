using Ingest.Pipeline;
using Ingest.Pipeline.Control;
using Ingest.Pipeline.Metrics;
using Ingest.Worker;
using Ingest.Worker.Admin;
using Ingest.Worker.Observability;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss.fff ";
});

// Unknown keys and values of the wrong type are all named before binding (the binder would stop at the first with an
// exception); then the values are checked together.
var problems = OptionsCheck.Problems<IngestOptions>(AdminOptions.Outside(builder.Configuration), "Ingest");
if (problems.Count > 0)
{
    Console.Error.WriteLine("Invalid configuration:\n  " + string.Join("\n  ", problems));
    return 2;
}
var options = builder.Configuration.GetSection("Ingest").Get<IngestOptions>() ?? new IngestOptions();
AdminSettings admin;
try
{
    options.Validate();
    admin = AdminSettings.Load(builder.Configuration);
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

builder.Services.AddSingleton(options);
builder.Services.AddSingleton<IngestMetrics>();
builder.Services.AddMetricsExport(options.Region);
builder.Services.AddHealthEndpoints();
builder.Services.AddSingleton<IngestWorker>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<IngestWorker>());
builder.Services.AddSingleton<IPipelineControl>(sp => sp.GetRequiredService<IngestWorker>());
builder.AddAdminApi(admin);

var app = builder.Build();
app.MapHealthEndpoints();
app.MapMetricsExport();
app.MapAdminApi();
await app.RunAsync();
// 1 when the pipeline failed (set by IngestWorker), so a supervisor sees the failure.
return Environment.ExitCode;
