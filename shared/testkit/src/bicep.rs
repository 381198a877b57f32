//! A small reader of `main.bicep` for tests: its `resource` blocks and
//! their properties, enough to check what the code assumes of the IaC.

/// One `resource <symbol> '<type>' = { ... }` block of a Bicep file.
#[derive(Debug)]
pub struct Resource {
    /// The symbolic name.
    pub symbol: String,
    /// The resource type with its API version.
    pub kind: String,
    /// The `{ ... }` block.
    pub body: String,
}

impl Resource {
    /// The first `key: value` at any depth of the block, quotes removed.
    pub fn prop(&self, key: &str) -> Option<String> {
        self.body.lines().find_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix(key)?.strip_prefix(':')?;
            Some(rest.trim().trim_matches('\'').to_owned())
        })
    }

    /// The `name` property.
    pub fn name(&self) -> String {
        self.prop("name").unwrap_or_default()
    }

    /// The `parent` property.
    pub fn parent(&self) -> Option<String> {
        self.prop("parent")
    }
}

/// Every `resource <symbol> '<type>' = { ... }` block of a Bicep file, in order.
pub fn resources(text: &str) -> Vec<Resource> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("\nresource ") {
        rest = &rest[at + 1..];
        let Some(header_end) = rest.find('{') else {
            break;
        };
        let header: Vec<&str> = rest[..header_end].split_whitespace().collect();
        let (Some(symbol), Some(kind)) = (header.get(1), header.get(2)) else {
            break;
        };
        let (symbol, kind) = ((*symbol).to_owned(), kind.trim_matches('\'').to_owned());
        let mut depth = 0;
        let mut end = header_end;
        for (i, c) in rest[header_end..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = header_end + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push(Resource {
            symbol,
            kind,
            body: rest[header_end..=end].to_owned(),
        });
        rest = &rest[end..];
    }
    out
}
