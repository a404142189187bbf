using Ingest.Cli;

return await IngestCli.RunAsync(args, CliIo.System);
