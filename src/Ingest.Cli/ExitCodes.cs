namespace Ingest.Cli;

/// <summary>What scripts can rely on. With several workers the highest code wins.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int WorkerError = 1;
    public const int Usage = 2;
    public const int Unreachable = 3;
    public const int AuthRefused = 4;

    public const string Help = """
        Exit codes (with several workers, the highest wins):
          0  every worker answered OK
          1  a worker answered an error: pipeline not running (503), failed pipeline (status), flush timeout (504), bad request
          2  usage error (bad option, no worker, no token); nothing was sent
          3  a worker was unreachable (connection refused, no answer in time)
          4  a worker refused the token (401/403)
        """;
}
