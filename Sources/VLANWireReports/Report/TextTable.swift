/// Left-aligned columns for the human output of `plan`, `status`, `doctor`.
package struct TextTable: Sendable {
    package var headers: [String]
    package var rows: [[String]] = []

    package init(_ headers: [String]) { self.headers = headers }

    package mutating func append(_ row: [String]) { rows.append(row) }

    package func render(indent: String = "") -> String {
        let all = [headers] + rows
        let widths = headers.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            var line = indent
            for (column, cell) in row.enumerated() {
                let isLast = column == row.count - 1
                line += isLast ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 2)
            }
            return line
        }.joined(separator: "\n")
    }
}
