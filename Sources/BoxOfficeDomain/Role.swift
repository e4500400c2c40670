/// Who may do what: a buyer, or an operator of the box office.
public enum Role: String, Sendable, CaseIterable {
    case user
    case admin
}
