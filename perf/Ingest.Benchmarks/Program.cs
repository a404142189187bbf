using BenchmarkDotNet.Running;
using Ingest.Benchmarks;

// `alloc`: a quick per-step allocation breakdown of the decode + encode loop; anything else goes to BenchmarkDotNet.
if (args is ["alloc"]) return AllocationCheck.Run();
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
