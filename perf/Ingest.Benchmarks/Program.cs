using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Ingest.Benchmarks.NativeWriterBenchmarks).Assembly).Run(args);
