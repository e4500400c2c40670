import BoxOfficeDomain
import BoxOfficeHTTP
import BoxOfficePersistence
import Foundation
import Hummingbird

/// `POST /users` and `POST /auth/login`.
struct AccountRoutes {
    let users: any UserRepository
    let tokens: TokenIssuer
    let limiter: RateLimiter
    let signUpRule: RateLimitRule
    let loginRule: RateLimitRule

    struct SignUp: Decodable {
        var name: String
        var email: String
        var password: String
    }

    struct UserBody: Encodable, Sendable {
        var id: String
        var name: String
        var email: String
    }

    struct Login: Decodable {
        var email: String
        var password: String
    }

    struct TokenBody: Encodable, Sendable {
        var access_token: String
        var token_type = "Bearer"
        var expires_in: Int
    }

    func register(on router: Router<BoxOfficeRequestContext>) {
        router.post("/users") { request, context in try await signUp(request, context) }
        router.post("/auth/login") { request, context in try await login(request, context) }
    }

    func signUp(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> Created<UserBody> {
        let headers = try await limiter.check(signUpRule, client: clientAddress(request, context))
        let body = try await decodeJSON(SignUp.self, from: request, context: context)
        let name = body.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(name.count) else { throw Problem.validation("name must be 1 to 100 characters.") }
        let email = body.email.trimmingCharacters(in: .whitespaces)
        guard Accounts.isEmail(email) else { throw Problem.validation("email must be a valid email address.") }
        guard Accounts.passwordBytes.contains(body.password.utf8.count) else { throw Problem.validation("password must be 8 to 72 bytes.") }
        let hash = try await Accounts.hash(password: body.password)
        let user = UserRecord(id: Accounts.newUserID(), name: name, email: email, passwordHash: hash, role: .user)
        do {
            try await users.create(user)
        } catch RepositoryError.emailTaken {
            throw Problem(status: .conflict, code: "email_taken", title: "Conflict", detail: "An account with this email exists.")
        }
        return Created(body: UserBody(id: user.id, name: user.name, email: user.email), headers: headers)
    }

    func login(_ request: Request, _ context: BoxOfficeRequestContext) async throws -> Created<TokenBody> {
        let headers = try await limiter.check(loginRule, client: clientAddress(request, context))
        let body = try await decodeJSON(Login.self, from: request, context: context)
        let invalid = Problem(status: .unauthorized, code: "invalid_credentials", title: "Unauthorized",
                              detail: "Email or password is wrong.")
        guard body.password.utf8.count <= Accounts.passwordBytes.upperBound, body.email.utf8.count <= 320 else { throw invalid }
        let user = try await users.find(email: body.email.trimmingCharacters(in: .whitespaces))
        // Verify against a dummy hash when the email is unknown, so both cases take as long.
        let hash = user?.passwordHash ?? Self.dummyHash
        let ok = try await Accounts.verify(password: body.password, hash: hash)
        guard ok, let user else { throw invalid }
        let token = try await tokens.issue(subject: user.id, role: user.role)
        return Created(status: .ok, body: TokenBody(access_token: token, expires_in: Int(tokens.lifetime.components.seconds)), headers: headers)
    }

    static let dummyHash = "$2b$12$C6UzMDM.H6dfI/f/IKcEeO5Q7yM3bJQ1mWnJ9l2Q0vPzFz1pQ8u9W"
}

/// The client address for per-IP limits: the socket's peer address.
func clientAddress(_ request: Request, _ context: BoxOfficeRequestContext) -> String {
    context.remoteAddressDescription
}

extension BoxOfficeRequestContext {
    /// The peer's IP address, or `unknown`.
    var remoteAddressDescription: String { remoteAddress?.ipAddress ?? "unknown" }
}
