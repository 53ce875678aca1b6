import Foundation

/// Finds the files an index is built from and reads them as plain text.
enum DocumentFiles {
    /// The extensions taken from a folder (and accepted when a file is named directly).
    static let extensions: Set<String> = ["md", "markdown", "txt", "rst", "html", "htm"]
    static var extensionList: String { extensions.sorted().map { "." + $0 }.joined(separator: ", ") }

    /// The files under `paths` (folders recursively, hidden entries skipped), as absolute paths,
    /// sorted so indexing is deterministic.
    static func expand(_ paths: [String]) throws -> [String] {
        let manager = FileManager.default
        var files: Set<String> = []
        for path in paths {
            let absolute = absolutePath(path)
            var isFolder: ObjCBool = false
            guard manager.fileExists(atPath: absolute, isDirectory: &isFolder) else {
                throw StoreError("cannot index \(path): no such file or folder")
            }
            if !isFolder.boolValue {
                guard isSupported(absolute) else {
                    throw StoreError("cannot index \(path): only \(extensionList) files can be indexed")
                }
                files.insert(absolute)
                continue
            }
            guard let entries = manager.enumerator(atPath: absolute) else {
                throw StoreError("cannot index \(path): the folder cannot be read")
            }
            var found = 0
            while let entry = entries.nextObject() as? String {
                if entry.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
                let file = (absolute as NSString).appendingPathComponent(entry)
                var entryIsFolder: ObjCBool = false
                if isSupported(file), manager.fileExists(atPath: file, isDirectory: &entryIsFolder), !entryIsFolder.boolValue {
                    files.insert(file)
                    found += 1
                }
            }
            if found == 0 { throw StoreError("cannot index \(path): the folder has no \(extensionList) files") }
        }
        return files.sorted()
    }

    static func isSupported(_ path: String) -> Bool {
        extensions.contains((path as NSString).pathExtension.lowercased())
    }

    static func absolutePath(_ path: String) -> String {
        let url = path.hasPrefix("/")
            ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    static func bytes(ofFile path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError("cannot read \(path): the file is unreadable")
        }
        return [UInt8](data)
    }

    /// A file's text from its bytes (invalid UTF-8 replaced, not refused); HTML is reduced to its visible text.
    static func text(of bytes: [UInt8], path: String) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        let ext = (path as NSString).pathExtension.lowercased()
        return ext == "html" || ext == "htm" ? visibleText(ofHTML: text) : text
    }

    /// Drops scripts, styles, comments and tags (block tags become line breaks) and decodes common entities.
    static func visibleText(ofHTML html: String) -> String {
        var text = html
        let rules: [(pattern: String, replacement: String)] = [
            ("<!--.*?-->", " "),
            ("<(script|style)\\b.*?</\\1\\s*>", " "),
            ("<(br|/p|/div|/li|/h[1-6]|/tr|/pre|/blockquote)\\b[^>]*>", "\n\n"),
            ("<[^>]*>", ""),
        ]
        for rule in rules {
            guard let regex = try? NSRegularExpression(pattern: rule.pattern, options: [.caseInsensitive, .dotMatchesLineSeparators]) else { continue }
            text = regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: rule.replacement)
        }
        let entities = [("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&apos;", "'"), ("&amp;", "&")]
        for (entity, character) in entities { text = text.replacingOccurrences(of: entity, with: character) }
        return text
    }
}
