using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Ingest.Pipeline.ClickHouse.Native;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>Base of columns whose Native form is one fixed-width little-endian value per row, back to back.</summary>
internal abstract class FixedWidthColumn<T> : Column
    where T : unmanaged
{
    private readonly PooledBuffer _data = new();

    public override int Count => _data.Length / Unsafe.SizeOf<T>();

    public T this[int index] => _data.Read<T>(index);

    public override void AppendJson(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            AppendDefault();
            return;
        }
        // Parse throws before anything is appended, so a bad value leaves the column unchanged.
        _data.Append(Parse(ref reader));
    }

    public override void AppendDefault() => _data.Append(DefaultValue);

    public void Append(T value) => _data.Append(value);

    protected bool Appended(T value)
    {
        _data.Append(value);
        return true;
    }

    public override void Truncate(int count) => _data.Truncate(count * Unsafe.SizeOf<T>());

    public override void Clear() => _data.Clear();

    public override void Dispose() => _data.Dispose();

    internal override void WriteData(IBufferWriter<byte> writer) => NativeWire.WriteBytes(writer, _data.Written);

    protected virtual T DefaultValue => default;

    protected abstract T Parse(ref Utf8JsonReader reader);
}
