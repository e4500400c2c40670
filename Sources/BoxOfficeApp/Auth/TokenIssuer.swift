import Foundation
import JWTKit

/// The claims of a BoxOffice access token.
public struct AccessTokenPayload: JWTPayload, Equatable {
    /// The buyer or admin: an opaque subject.
    public var sub: SubjectClaim
    /// `user` or `admin`.
    public var role: String
    /// Expiry.
    public var exp: ExpirationClaim
    /// Issued at.
    public var iat: IssuedAtClaim

    public init(subject: String, role: Role, expiresAt: Date, issuedAt: Date = Date()) {
        self.sub = SubjectClaim(value: subject)
        self.role = role.rawValue
        self.exp = ExpirationClaim(value: expiresAt)
        self.iat = IssuedAtClaim(value: issuedAt)
    }

    /// The subject as a plain string.
    public var subject: String { sub.value }

    public func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
        guard Role(rawValue: role) != nil else { throw JWTError.claimVerificationFailure(failedClaim: nil, reason: "unknown role") }
    }
}

/// Who may do what.
public enum Role: String, Sendable, CaseIterable {
    case user
    case admin
}

/// Signs and verifies HS256 access tokens with the configured secret.
public struct TokenIssuer: Sendable {
    private let keys: JWTKeyCollection

    /// Token lifetime. Default 1 hour.
    public var lifetime: Duration = .seconds(3600)

    public init(secret: String) async {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
    }

    /// A signed token for `subject` with `role`.
    public func issue(subject: String, role: Role, lifetime: Duration? = nil) async throws -> String {
        let seconds = Double((lifetime ?? self.lifetime).components.seconds)
        // Whole seconds: NumericDate values other verifiers parse as integers.
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let payload = AccessTokenPayload(subject: subject, role: role, expiresAt: now.addingTimeInterval(seconds), issuedAt: now)
        return try await keys.sign(payload)
    }

    /// The verified claims of `token`; throws when the signature, expiry or role is wrong.
    public func verify(_ token: String) async throws -> AccessTokenPayload {
        try await keys.verify(token, as: AccessTokenPayload.self)
    }
}
