import CJemalloc

/// The memory allocator of the executables that link this module: jemalloc in place
/// of glibc's malloc (see `Sources/CJemalloc/shim.h`).
public enum Allocator {
    /// `jemalloc <version>` when jemalloc serves malloc in this process, else `glibc malloc`.
    public static var description: String {
        var version: UnsafePointer<CChar>? = nil
        var length = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &length, nil, 0) == 0, let version else { return "glibc malloc" }
        return "jemalloc \(String(cString: version))"
    }
}
