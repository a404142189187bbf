using System.Buffers;
using System.Buffers.Binary;

namespace Ingest.Pipeline.ClickHouse.Native;

/// <summary>Primitive encodings of ClickHouse's Native format
/// (https://clickhouse.com/docs/interfaces/formats/Native): LEB128 VarUInt, little-endian fixed-width integers,
/// and String as VarUInt length followed by the bytes.</summary>
internal static class NativeWire
{
    /// <summary>A 64-bit LEB128 value never takes more than 10 bytes.</summary>
    public const int MaxVarUIntLength = 10;

    public static int WriteVarUInt(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static void WriteVarUInt(IBufferWriter<byte> writer, ulong value)
    {
        var written = WriteVarUInt(writer.GetSpan(MaxVarUIntLength), value);
        writer.Advance(written);
    }

    public static void WriteUInt64(IBufferWriter<byte> writer, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(writer.GetSpan(sizeof(ulong)), value);
        writer.Advance(sizeof(ulong));
    }

    public static void WriteString(IBufferWriter<byte> writer, ReadOnlySpan<byte> utf8)
    {
        WriteVarUInt(writer, (ulong)utf8.Length);
        WriteBytes(writer, utf8);
    }

    /// <summary>Copies in pieces the writer hands out, so a large column never asks a PipeWriter for one huge segment.</summary>
    public static void WriteBytes(IBufferWriter<byte> writer, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var span = writer.GetSpan();
            var n = Math.Min(span.Length, bytes.Length);
            bytes[..n].CopyTo(span);
            writer.Advance(n);
            bytes = bytes[n..];
        }
    }
}
