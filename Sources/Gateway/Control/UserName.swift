#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The login name of a user id, for operator records (`root (uid 0)`).
enum UserName {
    /// The passwd name of `uid`, or nil when the system knows none (a container without the user, a bare uid).
    /// `getpwuid_r`, not `getpwuid`: the control socket serves several peers at once.
    static func of(uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var size = max(Int(sysconf(Int32(_SC_GETPW_R_SIZE_MAX))), 1024)
        while size <= 1 << 20 {
            var buffer = [CChar](repeating: 0, count: size)
            // The name points into `buffer`: read it before the buffer goes.
            let (status, name) = buffer.withUnsafeMutableBufferPointer { raw -> (Int32, String?) in
                guard let base = raw.baseAddress else { return (EINVAL, nil) }
                let status = getpwuid_r(uid_t(uid), &entry, base, raw.count, &result)
                guard status == 0, result != nil, let name = entry.pw_name else { return (status, nil) }
                return (status, String(cString: name))
            }
            if status == ERANGE {
                size *= 2
                continue
            }
            return name?.isEmpty == false ? name : nil
        }
        return nil
    }
}
