// Short names for the generated messages that every layer uses.
// The generated types are `package`: orchlog's own modules share them, users of the clients never
// see them.

package typealias Frame = Orchlog_V1_Frame
package typealias StatusCode = Orchlog_V1_StatusCode
package typealias LogEntryMessage = Orchlog_V1_LogEntry
