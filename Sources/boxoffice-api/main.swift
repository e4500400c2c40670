import BoxOfficeAllocator
import BoxOfficeApp

ProcessRunner.runConcurrencyOnEventLoops()
await ProcessRunner.run(name: "boxoffice-api", allocator: Allocator.description, build: buildAPIApplication)
