import BoxOfficeApp

await ProcessRunner.run(name: "boxoffice-api", build: buildAPIApplication)
