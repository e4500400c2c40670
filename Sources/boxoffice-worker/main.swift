import BoxOfficeAllocator
import BoxOfficeRuntime

ProcessRunner.runConcurrencyOnEventLoops()
await ProcessRunner.run(name: "boxoffice-worker", allocator: Allocator.description, build: buildWorkerApplication)
