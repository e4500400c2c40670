/// Log metadata keys.
public enum LogKey {
    public static let requestID = "request_id"
    public static let reservationID = "reservation_id"
    public static let eventID = "event_id"
}

