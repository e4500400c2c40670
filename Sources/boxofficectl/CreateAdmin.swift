import ArgumentParser
import BoxOfficeAPI
import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficePersistence
import BoxOfficePostgres
import BoxOfficeRuntime
import Foundation

struct CreateAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-admin",
        abstract: "Create an admin account that can log in with POST /auth/login.",
        discussion: "The password is read from BOXOFFICE_ADMIN_PASSWORD or, if unset, from the first line of standard input; never from the command line.")

    @Option(help: "Display name.") var name = "Administrator"
    @Option(help: "Email address (unique, case-insensitive).") var email: String

    func run() async throws {
        let (settings, logger) = try context("create-admin")
        let password = ProcessInfo.processInfo.environment["BOXOFFICE_ADMIN_PASSWORD"] ?? readLine(strippingNewline: true) ?? ""
        guard Accounts.passwordBytes.contains(password.utf8.count) else { throw ValidationError("the password must be 8 to 72 bytes") }
        guard Accounts.isEmail(email) else { throw ValidationError("--email is not an email address") }
        let hash = try await Accounts.hash(password: password)
        let pg = PostgresClient(configuration: settings.postgres(applicationName: "boxofficectl"), logger: logger)
        let repositories = PostgresRepositories(db: pg)
        let id = Accounts.newUserID()
        do {
            try await repositories.create(UserRecord(id: id, name: name, email: email, passwordHash: hash, role: .admin))
            print("created admin \(id) <\(email)>")
        } catch RepositoryError.emailTaken {
            await pg.shutdown()
            throw ValidationError("an account with email \(email) already exists")
        }
        await pg.shutdown()
    }
}
