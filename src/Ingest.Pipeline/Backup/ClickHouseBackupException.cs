using System.Net;

namespace Ingest.Pipeline.Backup;

/// <summary>What went wrong, so a backup point can decide: wait and try again (<see cref="Locked"/>), stop
/// (<see cref="Unauthorized"/>, <see cref="Rejected"/>) or report a failed backup (<see cref="Failed"/>,
/// <see cref="TimedOut"/>).</summary>
internal enum BackupErrorKind
{
    /// <summary>The server refused the call (400/404/405/500 with an error row).</summary>
    Rejected,

    /// <summary>423: another operation is running (only one at a time unless <c>api.allow_parallel</c>).</summary>
    Locked,

    /// <summary>401: wrong or missing api.username/api.password.</summary>
    Unauthorized,

    /// <summary>The operation ran and ended in a status other than "success" (error, cancel).</summary>
    Failed,

    /// <summary>The server has no action row with that operation id (it answers an empty body).</summary>
    UnknownOperation,

    /// <summary>The operation was still "in progress" when the wait ran out; it was killed.</summary>
    TimedOut,

    /// <summary>The answer did not have the contract's shape.</summary>
    BadAnswer,
}

/// <summary>A clickhouse-backup call that did not do what was asked, naming the operation and the server's own error
/// text.</summary>
internal sealed class ClickHouseBackupException(BackupErrorKind kind, string operation, string message, HttpStatusCode? status = null,
    string? serverError = null, Exception? inner = null) : Exception(message, inner)
{
    public BackupErrorKind Kind { get; } = kind;

    /// <summary>The API operation (create, restore, status, ...), as the server names it in its error rows.</summary>
    public string Operation { get; } = operation;

    public HttpStatusCode? Status { get; } = status;

    /// <summary>The error row's <c>error</c> (or the raw body when it was not one).</summary>
    public string? ServerError { get; } = serverError;

    /// <summary>Another operation holds the server's one slot: wait for it or abort, do not count it as a failed
    /// backup.</summary>
    public bool IsLocked => Kind == BackupErrorKind.Locked;
}
