import BoxOfficeAPI
import BoxOfficeAllocator
import BoxOfficeHTTP
import BoxOfficePersistence
import BoxOfficeRuntime

ProcessRunner.runConcurrencyOnEventLoops()
await ProcessRunner.run(name: "boxoffice-api", allocator: Allocator.description, build: buildAPIApplication)
