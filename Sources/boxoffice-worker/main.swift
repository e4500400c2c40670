import BoxOfficeApp

await ProcessRunner.run(name: "boxoffice-worker", build: buildWorkerApplication)
