/// RFC 3339 UTC timestamps (`2026-11-21T07:54:38.123Z`), formatted with integer
/// arithmetic: no calendar, time zone or locale lookups on hot paths (every
/// reservation response, every relayed event, every log line).
public enum RFC3339Timestamp {
    /// With milliseconds, from milliseconds since 1970 (Redis's clock).
    public static func string(milliseconds ms: Int64) -> String {
        format(milliseconds: ms, fraction: true)
    }

    /// Whole seconds, from seconds since 1970.
    public static func string(seconds: Int64) -> String {
        format(milliseconds: seconds * 1000, fraction: false)
    }

    static func format(milliseconds ms: Int64, fraction: Bool) -> String {
        let (secondsTotal, milli) = floorDivide(ms, 1000)
        let (days, secondOfDay) = floorDivide(secondsTotal, 86_400)
        let (y, m, d) = civil(fromDays: days)
        let hh = secondOfDay / 3600, mm = (secondOfDay % 3600) / 60, ss = secondOfDay % 60
        let capacity = fraction ? 24 : 20
        return String(unsafeUninitializedCapacity: capacity) { buffer in
            var i = 0
            func put(_ value: Int64, digits: Int) {
                var v = value
                for k in stride(from: digits - 1, through: 0, by: -1) {
                    buffer[i + k] = UInt8(truncatingIfNeeded: 0x30 + v % 10)
                    v /= 10
                }
                i += digits
            }
            func char(_ c: UInt8) { buffer[i] = c; i += 1 }
            put(y, digits: 4); char(0x2D); put(m, digits: 2); char(0x2D); put(d, digits: 2)
            char(0x54); put(hh, digits: 2); char(0x3A); put(mm, digits: 2); char(0x3A); put(ss, digits: 2)
            if fraction { char(0x2E); put(milli, digits: 3) }
            char(0x5A)
            return i
        }
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a / b, r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    /// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
