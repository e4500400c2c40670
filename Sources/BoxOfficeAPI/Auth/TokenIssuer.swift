import BoxOfficeDomain
import Foundation
import JWTKit
import Synchronization

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

/// Signs and verifies HS256 access tokens with the configured secret.
public struct TokenIssuer: Sendable {
    fileprivate let keys: JWTKeyCollection
    private let verified = VerifiedTokenCache(capacity: 50_000)

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
    ///
    /// A token verified before is answered from a bounded in-memory cache until it expires,
    /// so a buyer's repeated requests cost one signature check, not one each.
    public func verify(_ token: String) async throws -> AccessTokenPayload {
        if let claims = verified.claims(for: token) { return claims }
        let claims = try await keys.verify(token, as: AccessTokenPayload.self)
        verified.insert(claims, for: token)
        return claims
    }
}

/// The claims of a waiting-room admission: the buyer, the event, the end of the admission.
/// `typ` tells it from an access token (which has a role and no event).
public struct AdmissionTokenPayload: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var evt: String
    public var typ: String
    public var exp: ExpirationClaim

    public init(subject: String, event: String, expiresAt: Date) {
        self.sub = SubjectClaim(value: subject)
        self.evt = event
        self.typ = "admission"
        self.exp = ExpirationClaim(value: expiresAt)
    }

    public func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
        guard typ == "admission" else { throw JWTError.claimVerificationFailure(failedClaim: nil, reason: "not an admission token") }
    }
}

extension TokenIssuer {
    /// An admission token for `subject` to reserve in `event` until `expiresAt`.
    public func issueAdmission(subject: String, event: String, expiresAt: Date) async throws -> String {
        try await keys.sign(AdmissionTokenPayload(subject: subject, event: event, expiresAt: expiresAt))
    }

    /// Whether `token` is an admission of `subject` to `event` that has not expired: signed with
    /// this server's key, of the admission type, for that buyer and that event.
    public func admits(_ token: String, subject: String, event: String) async -> Bool {
        guard let claims = try? await keys.verify(token, as: AdmissionTokenPayload.self) else { return false }
        return claims.sub.value == subject && claims.evt == event
    }
}

/// Verified tokens by their exact text, until their expiry; at most `capacity` entries.
final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[String: AccessTokenPayload]>([:])
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func claims(for token: String) -> AccessTokenPayload? {
        entries.withLock { entries in
            guard let claims = entries[token] else { return nil }
            if claims.exp.value <= Date() {
                entries[token] = nil
                return nil
            }
            return claims
        }
    }

    func insert(_ claims: AccessTokenPayload, for token: String) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = claims
        }
    }
}
