import SluiceSyntax

/// Why a schema file named by `validate … against schema("f.json")` cannot be used.
enum SchemaFileProblem: Error {
    /// The loader could not read it (no such file, a folder, not UTF-8).
    case unreadable(String)
    /// Its text is not JSON: where the parse stopped, in the schema file.
    case notJSON(SourceFile, offset: Int, String)
    /// It is JSON but not a schema the validator accepts (a bad keyword, a `$ref` cycle, an
    /// unsupported feature).
    case invalid(JSONSchemaError)
}

extension ModuleChecker {
    /// Reads and compiles the schema file of `validate NAME against schema(...)` (once per file
    /// and format setting in a check) and records it for the interpreter; a file that cannot be
    /// read, is not JSON or is not a valid schema is an error with a caret (in the schema file
    /// for JSON syntax, at the path in the script otherwise).
    func checkSchemaFile(_ ref: SchemaFileRef) {
        let key = "\(ref.path)\u{0}\(ref.assertFormats)\u{0}\(file.path)"
        let result = session.compiledSchemas[key] ?? compileSchemaFile(ref)
        session.compiledSchemas[key] = result
        switch result {
        case .success(let validator):
            session.schemas[BindingSite(file, ref.span)] = SchemaFile(path: ref.path, validator: validator)
        case .failure(.unreadable(let why)):
            error("cannot read the schema file \"\(ref.path)\": \(why)", at: ref.pathSpan,
                  help: "the path is relative to this script's folder")
        case .failure(.notJSON(let schemaFile, let offset, let why)):
            error("the schema file \"\(ref.path)\" is not JSON", at: ref.pathSpan,
                  notes: [Diagnostic.Note(why, file: schemaFile, span: Span(offset, min(offset + 1, schemaFile.bytes.count)))])
        case .failure(.invalid(let problem)):
            error("the schema file \"\(ref.path)\" is not a valid JSON Schema: at \(problem.location), \(problem.message)",
                  at: ref.pathSpan)
        }
    }

    private func compileSchemaFile(_ ref: SchemaFileRef) -> Result<JSONSchemaValidator, SchemaFileProblem> {
        let source: SourceFile
        do { source = try session.loader.loadFile(ref.path, relativeTo: file) } catch {
            return .failure(.unreadable("\(error)"))
        }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes: source.bytes) } catch {
            return .failure(.notJSON(source, offset: error.offset, error.message))
        }
        do {
            return .success(try JSONSchemaValidator(schema: json, options: .init(assertFormats: ref.assertFormats)))
        } catch {
            return .failure(.invalid(error))
        }
    }
}
