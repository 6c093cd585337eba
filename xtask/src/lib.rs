//! kfk's protocol code generator: reads Apache Kafka's JSON message specs and writes readable
//! Rust types with `decode`/`encode`/`encoded_len` for every version in `validVersions`.
//!
//! Input: a `kafka-protocol` folder holding `messages/`, `group-coordinator/` and `metadata/`
//! (a path to `messages/` itself is accepted too). Output: one Rust file per spec under
//! `src/protocol/{messages,coordinator,metadata}/`, plus `mod.rs` files and `api.rs` (the
//! `ApiKey` table and the request/response body enums). The generated code uses only
//! `crate::protocol::codec`.
//!
//! Rules honoured (see the specs' README): comments stripped; version ranges `N`, `N+`, `N-M`,
//! `none`; flexible versions use compact lengths and tagged-field sections, with a field-level
//! `flexibleVersions` override (`ClientId`); tagged fields equal to their default are not
//! written; unknown tagged fields are kept and re-written; non-ignorable fields with a
//! non-default value at a version that lacks them refuse to encode; nullable fields are
//! `Option` and a null at a non-nullable version is refused both ways.

pub mod capture;

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A version range; `None` for "none".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Versions {
    pub min: i16,
    pub max: i16,
}

const OPEN: i16 = i16::MAX;

fn parse_versions(text: &str) -> Option<Versions> {
    let text = text.trim();
    if text == "none" {
        return None;
    }
    if let Some(min) = text.strip_suffix('+') {
        return Some(Versions {
            min: min.parse().expect("version"),
            max: OPEN,
        });
    }
    if let Some((a, b)) = text.split_once('-') {
        return Some(Versions {
            min: a.parse().expect("version"),
            max: b.parse().expect("version"),
        });
    }
    let v = text.parse().expect("version");
    Some(Versions { min: v, max: v })
}

/// A Rust boolean expression over `version` that is true inside `range`.
fn cond(range: Option<Versions>) -> String {
    match range {
        None => "false".into(),
        Some(Versions { min, max }) if max == OPEN && min <= 0 => "true".into(),
        Some(Versions { min, max }) if max == OPEN => format!("version >= {min}"),
        Some(Versions { min, max }) if min == max => format!("version == {min}"),
        Some(Versions { min, max }) if min <= 0 => format!("version <= {max}"),
        Some(Versions { min, max }) => format!("({min}..={max}).contains(&version)"),
    }
}

fn intersect(a: Option<Versions>, b: Option<Versions>) -> Option<Versions> {
    let (a, b) = (a?, b?);
    let v = Versions {
        min: a.min.max(b.min),
        max: a.max.min(b.max),
    };
    (v.min <= v.max).then_some(v)
}

#[derive(Clone, Debug, PartialEq)]
enum Prim {
    Int8,
    Int16,
    Int32,
    Int64,
    Uint16,
    Uint32,
    Float64,
    Bool,
    Uuid,
    String,
    Bytes,
    Records,
}

#[derive(Clone, Debug)]
enum Type {
    Prim(Prim),
    Array(Box<Type>),
    Struct(String),
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    ty: Type,
    versions: Option<Versions>,
    nullable: Option<Versions>,
    tagged: Option<Versions>,
    tag: Option<u32>,
    ignorable: bool,
    default: Option<String>,
    flexible_override: Option<Option<Versions>>,
    about: Option<String>,
}

#[derive(Clone, Debug)]
struct StructDef {
    name: String,
    fields: Vec<Field>,
}

/// One parsed spec file.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub kind: String,
    pub api_key: Option<i16>,
    pub valid: Versions,
    pub flexible: Option<Versions>,
    pub latest_unstable: bool,
    pub listeners: Vec<String>,
    structs: Vec<StructDef>,
    root: StructDef,
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_prim(t: &str) -> Option<Prim> {
    Some(match t {
        "int8" => Prim::Int8,
        "int16" => Prim::Int16,
        "int32" => Prim::Int32,
        "int64" => Prim::Int64,
        "uint16" => Prim::Uint16,
        "uint32" => Prim::Uint32,
        "float64" => Prim::Float64,
        "bool" => Prim::Bool,
        "uuid" => Prim::Uuid,
        "string" => Prim::String,
        "bytes" => Prim::Bytes,
        "records" => Prim::Records,
        _ => return None,
    })
}

fn parse_type(t: &str) -> Type {
    if let Some(inner) = t.strip_prefix("[]") {
        return Type::Array(Box::new(parse_type(inner)));
    }
    match parse_prim(t) {
        Some(p) => Type::Prim(p),
        None => Type::Struct(t.to_string()),
    }
}

fn struct_name_of(ty: &Type) -> Option<&str> {
    match ty {
        Type::Struct(n) => Some(n),
        Type::Array(inner) => struct_name_of(inner),
        Type::Prim(_) => None,
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn parse_fields(list: &Value, structs: &mut Vec<StructDef>) -> Vec<Field> {
    let mut out = Vec::new();
    for f in list.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let name = str_field(f, "name").expect("field name").to_string();
        let ty = parse_type(str_field(f, "type").expect("field type"));
        let versions = parse_versions(str_field(f, "versions").unwrap_or("none"));
        let default = f.get("default").map(|d| match d {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        if let Some(children) = f.get("fields") {
            let child_fields = parse_fields(children, structs);
            let sname = struct_name_of(&ty).expect("struct type").to_string();
            if !structs.iter().any(|s| s.name == sname) {
                structs.push(StructDef {
                    name: sname,
                    fields: child_fields,
                });
            }
        }
        out.push(Field {
            name,
            ty,
            versions,
            nullable: str_field(f, "nullableVersions").and_then(parse_versions),
            tagged: str_field(f, "taggedVersions").and_then(parse_versions),
            // Some specs spell the tag as a string ("tag": "0").
            tag: f
                .get("tag")
                .and_then(|t| {
                    t.as_u64()
                        .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
                })
                .map(|t| t as u32),
            ignorable: f.get("ignorable").and_then(Value::as_bool).unwrap_or(false),
            default,
            flexible_override: str_field(f, "flexibleVersions").map(parse_versions),
            about: str_field(f, "about").map(str::to_string),
        });
    }
    out
}

/// Parses one spec file's text; `None` for a message Kafka removed (`"validVersions":
/// "none"`, as 4.x's ZooKeeper-era LeaderAndIsr, StopReplica, UpdateMetadata and
/// ControlledShutdown).
pub fn parse_spec(text: &str) -> Option<Spec> {
    let v: Value = serde_json::from_str(&strip_comments(text)).expect("spec JSON");
    let name = str_field(&v, "name").expect("name").to_string();
    let valid = parse_versions(str_field(&v, "validVersions").expect("validVersions"))?;
    let flexible = parse_versions(str_field(&v, "flexibleVersions").unwrap_or("none"));
    let mut structs = Vec::new();
    if let Some(common) = v.get("commonStructs").and_then(Value::as_array) {
        for c in common {
            let fields = parse_fields(&c["fields"], &mut structs);
            structs.push(StructDef {
                name: str_field(c, "name").expect("name").to_string(),
                fields,
            });
        }
    }
    let fields = parse_fields(&v["fields"], &mut structs);
    Some(Spec {
        root: StructDef {
            name: name.clone(),
            fields,
        },
        name,
        kind: str_field(&v, "type").unwrap_or("data").to_string(),
        api_key: v.get("apiKey").and_then(Value::as_i64).map(|k| k as i16),
        valid,
        flexible,
        latest_unstable: v
            .get("latestVersionUnstable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        listeners: v
            .get("listeners")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        structs,
    })
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// `ClusterAuthorizedOperations` → `cluster_authorized_operations`, `ISR` → `isr`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    if KEYWORDS.contains(&out.as_str()) {
        out = format!("r#{out}");
    }
    out
}

fn upper_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn prim_rust(p: &Prim) -> &'static str {
    match p {
        Prim::Int8 => "i8",
        Prim::Int16 => "i16",
        Prim::Int32 => "i32",
        Prim::Int64 => "i64",
        Prim::Uint16 => "u16",
        Prim::Uint32 => "u32",
        Prim::Float64 => "f64",
        Prim::Bool => "bool",
        Prim::Uuid => "Uuid",
        Prim::String => "String",
        Prim::Bytes | Prim::Records => "Bytes",
    }
}

/// The least bytes one element of this type takes on the wire.
fn min_wire_bytes(ty: &Type) -> usize {
    match ty {
        Type::Prim(Prim::Int8 | Prim::Bool) => 1,
        Type::Prim(Prim::Int16 | Prim::Uint16) => 2,
        Type::Prim(Prim::Int32 | Prim::Uint32) => 4,
        Type::Prim(Prim::Int64 | Prim::Float64) => 8,
        Type::Prim(Prim::Uuid) => 16,
        _ => 1,
    }
}

fn fixed_size(ty: &Type) -> Option<usize> {
    match ty {
        Type::Prim(Prim::String | Prim::Bytes | Prim::Records) => None,
        Type::Prim(_) => Some(min_wire_bytes(ty)),
        _ => None,
    }
}

struct Ctx<'a> {
    spec: &'a Spec,
}

impl Field {
    fn is_nullable(&self) -> bool {
        self.nullable.is_some()
    }

    fn rust_type(&self) -> String {
        let base = type_rust(&self.ty);
        if self.is_nullable() {
            format!("Option<{base}>")
        } else {
            base
        }
    }

    fn rust_name(&self) -> String {
        snake_case(&self.name)
    }

    /// The version range in which the field is on the wire (as a regular or tagged field).
    fn present(&self) -> Option<Versions> {
        if self.tag.is_some() {
            intersect(self.versions, self.tagged)
        } else {
            self.versions
        }
    }
}

fn type_rust(ty: &Type) -> String {
    match ty {
        Type::Prim(p) => prim_rust(p).to_string(),
        Type::Array(inner) => format!("Vec<{}>", type_rust(inner)),
        Type::Struct(n) => n.clone(),
    }
}

fn parse_int_default(d: &str) -> String {
    if let Some(hex) = d.strip_prefix("0x") {
        format!("0x{hex}")
    } else {
        d.to_string()
    }
}

/// The Rust expression of a field's default value.
fn default_expr(f: &Field) -> String {
    let d = f.default.as_deref();
    let null = d == Some("null");
    let inner = match &f.ty {
        Type::Prim(Prim::Records) if f.is_nullable() => return "None".into(),
        _ if null && f.is_nullable() => return "None".into(),
        Type::Prim(Prim::Bool) => d
            .filter(|d| *d == "true")
            .map_or("false", |_| "true")
            .into(),
        Type::Prim(Prim::Float64) => d.map_or("0.0".into(), |d| {
            if d.contains('.') {
                d.to_string()
            } else {
                format!("{d}.0")
            }
        }),
        Type::Prim(Prim::String) => format!("String::from({:?})", d.unwrap_or("")),
        Type::Prim(Prim::Bytes | Prim::Records) => "Bytes::new()".into(),
        Type::Prim(Prim::Uuid) => "Uuid::ZERO".into(),
        Type::Prim(_) => match d {
            Some(v) if !v.is_empty() => parse_int_default(v),
            _ => "0".into(),
        },
        Type::Array(inner) => format!("Vec::<{}>::new()", type_rust(inner)),
        Type::Struct(n) => format!("{n}::default()"),
    };
    if f.is_nullable() {
        format!("Some({inner})")
    } else {
        inner
    }
}

/// Expression decoding one non-null value of `ty` from decoder `d`.
fn decode_value(ty: &Type, compact: &str) -> String {
    match ty {
        Type::Prim(p) => match p {
            Prim::Int8 => "d.i8()?".into(),
            Prim::Int16 => "d.i16()?".into(),
            Prim::Int32 => "d.i32()?".into(),
            Prim::Int64 => "d.i64()?".into(),
            Prim::Uint16 => "d.u16()?".into(),
            Prim::Uint32 => "d.u32()?".into(),
            Prim::Float64 => "d.f64()?".into(),
            Prim::Bool => "d.bool()?".into(),
            Prim::Uuid => "d.uuid()?".into(),
            Prim::String => format!("d.string({compact})?"),
            Prim::Bytes | Prim::Records => format!("d.bytes({compact})?"),
        },
        Type::Struct(n) => format!("{n}::decode(d, version)?"),
        Type::Array(inner) => format!(
            "{{ let n = d.array_len({compact}, {min})?.ok_or_else(null_field)?; d.array_of(n, |d| Ok({elem}))? }}",
            min = min_wire_bytes(inner),
            elem = decode_value(inner, compact)
        ),
    }
}

/// Expression decoding a nullable value (an `Option`), refusing null where `nullable` is false.
fn decode_nullable(f: &Field, compact: &str) -> String {
    let nullable_ok = cond(f.nullable);
    let read = match &f.ty {
        Type::Prim(Prim::String) => format!("d.nullable_string({compact})?"),
        Type::Prim(Prim::Bytes | Prim::Records) => format!("d.nullable_bytes({compact})?"),
        Type::Struct(n) => format!("if d.i8()? < 0 {{ None }} else {{ Some({n}::decode(d, version)?) }}"),
        Type::Array(inner) => format!(
            "match d.array_len({compact}, {min})? {{ None => None, Some(n) => Some(d.array_of(n, |d| Ok({elem}))?) }}",
            min = min_wire_bytes(inner),
            elem = decode_value(inner, compact)
        ),
        Type::Prim(_) => format!("Some({})", decode_value(&f.ty, compact)),
    };
    if nullable_ok == "true" {
        read
    } else {
        format!("{{ let v = {read}; if v.is_none() && !({nullable_ok}) {{ return Err(null_field()); }} v }}")
    }
}

/// Statements encoding one non-null value `v` (an expression of reference type) of `ty`.
fn encode_value(ty: &Type, v: &str, compact: &str) -> String {
    match ty {
        Type::Prim(p) => match p {
            Prim::Int8 => format!("e.put_i8(*{v});"),
            Prim::Int16 => format!("e.put_i16(*{v});"),
            Prim::Int32 => format!("e.put_i32(*{v});"),
            Prim::Int64 => format!("e.put_i64(*{v});"),
            Prim::Uint16 => format!("e.put_u16(*{v});"),
            Prim::Uint32 => format!("e.put_u32(*{v});"),
            Prim::Float64 => format!("e.put_f64(*{v});"),
            Prim::Bool => format!("e.put_bool(*{v});"),
            Prim::Uuid => format!("e.put_uuid({v});"),
            Prim::String => format!("e.put_string(Some({v}), {compact});"),
            Prim::Bytes => format!("e.put_bytes(Some({v}), {compact});"),
            Prim::Records => format!("e.put_records(Some({v}), {compact});"),
        },
        Type::Struct(_) => format!("({v}).encode(e, version)?;"),
        Type::Array(inner) => format!(
            "e.put_length(Some(({v}).len()), {compact}, true); for x in ({v}).iter() {{ {} }}",
            encode_value(inner, "x", compact)
        ),
    }
}

/// Expression: encoded size of one non-null value `v` of `ty`.
fn len_value(ty: &Type, v: &str, compact: &str) -> String {
    match ty {
        Type::Prim(Prim::String | Prim::Bytes | Prim::Records) => {
            let wide = !matches!(ty, Type::Prim(Prim::String));
            format!("(length_len(Some({v}.len()), {compact}, {wide}) + {v}.len())")
        }
        Type::Prim(_) => min_wire_bytes(ty).to_string(),
        Type::Struct(_) => format!("{v}.encoded_len(version)"),
        Type::Array(inner) => {
            let each = match fixed_size(inner) {
                Some(n) => format!("{v}.len() * {n}"),
                None => format!(
                    "{v}.iter().map(|x| {}).sum::<usize>()",
                    len_value(inner, "x", compact)
                ),
            };
            format!("(length_len(Some({v}.len()), {compact}, true) + {each})")
        }
    }
}

fn null_len(ty: &Type, compact: &str) -> String {
    match ty {
        Type::Struct(_) => "1".into(),
        Type::Prim(Prim::String) => format!("length_len(None, {compact}, false)"),
        _ => format!("length_len(None, {compact}, true)"),
    }
}

/// Statements encoding field `f` (any nullability) from `self`.
fn encode_field(f: &Field, compact: &str) -> String {
    let name = f.rust_name();
    if !f.is_nullable() {
        return encode_value(&f.ty, &format!("&self.{name}"), compact);
    }
    let null_check = match cond(f.nullable).as_str() {
        "true" => String::new(),
        c => format!(
            "if !({c}) {{ return Err(EncodeError::NullNotAllowed {{ field: {:?}, version }}); }} ",
            f.name
        ),
    };
    let write_null = match &f.ty {
        Type::Struct(_) => "e.put_i8(-1);".to_string(),
        Type::Prim(Prim::String) => format!("e.put_string(None, {compact});"),
        _ => format!("e.put_length(None, {compact}, true);"),
    };
    let write_some = match &f.ty {
        Type::Struct(_) => "e.put_i8(1); v.encode(e, version)?;".to_string(),
        t => encode_value(t, "v", compact),
    };
    format!("match &self.{name} {{ None => {{ {null_check}{write_null} }} Some(v) => {{ {write_some} }} }}")
}

fn len_field(f: &Field, compact: &str) -> String {
    let name = f.rust_name();
    if !f.is_nullable() {
        return len_value(&f.ty, &format!("self.{name}"), compact);
    }
    let some = match &f.ty {
        Type::Struct(_) => "1 + v.encoded_len(version)".to_string(),
        t => len_value(t, "v", compact),
    };
    format!(
        "match &self.{name} {{ None => {}, Some(v) => {some} }}",
        null_len(&f.ty, compact)
    )
}

fn doc_comment(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "{indent}/// {}", line.trim());
    }
}

impl<'a> Ctx<'a> {
    fn flexible_cond(&self) -> String {
        cond(self.spec.flexible)
    }

    fn compact_for(&self, f: &Field) -> String {
        match f.flexible_override {
            Some(over) => cond(over),
            None => "flexible".into(),
        }
    }

    fn emit_struct(&self, out: &mut String, s: &StructDef, is_root: bool) {
        let spec = self.spec;
        if is_root {
            let _ = writeln!(
                out,
                "/// {} ({}), versions {}-{}{}.",
                spec.name,
                spec.kind,
                spec.valid.min,
                spec.valid.max,
                spec.flexible
                    .map_or(String::new(), |f| format!(", flexible from {}", f.min))
            );
        }
        let _ = writeln!(
            out,
            "#[derive(Debug, Clone, PartialEq)]\npub struct {} {{",
            s.name
        );
        for f in &s.fields {
            if let Some(about) = &f.about {
                doc_comment(out, "    ", about);
            }
            let present = f.present().map_or("none".to_string(), |v| {
                if v.max == OPEN {
                    format!("{}+", v.min)
                } else {
                    format!("{}-{}", v.min, v.max)
                }
            });
            let tag = f
                .tag
                .map_or(String::new(), |t| format!(", tagged (tag {t})"));
            let _ = writeln!(out, "    /// Versions: {present}{tag}.");
            let _ = writeln!(out, "    pub {}: {},", f.rust_name(), f.rust_type());
        }
        if spec.flexible.is_some() {
            out.push_str(
                "    /// Tagged fields this code does not know, kept to be written back.\n",
            );
            out.push_str("    pub unknown_tagged_fields: Vec<RawTaggedField>,\n");
        }
        out.push_str("}\n\n");

        let _ = writeln!(
            out,
            "impl Default for {} {{\n    fn default() -> Self {{\n        {} {{",
            s.name, s.name
        );
        for f in &s.fields {
            let _ = writeln!(out, "            {}: {},", f.rust_name(), default_expr(f));
        }
        if spec.flexible.is_some() {
            out.push_str("            unknown_tagged_fields: Vec::new(),\n");
        }
        out.push_str("        }\n    }\n}\n\n");

        let _ = writeln!(out, "impl Message for {} {{", s.name);
        self.emit_decode(out, s);
        self.emit_encode(out, s);
        self.emit_len(out, s);
        out.push_str("}\n\n");
    }

    fn emit_decode(&self, out: &mut String, s: &StructDef) {
        let flex = self.spec.flexible.is_some();
        out.push_str("    #[allow(unused_variables)]\n");
        out.push_str(
            "    fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {\n",
        );
        if flex {
            let _ = writeln!(out, "        let flexible = {};", self.flexible_cond());
        }
        out.push_str("        let mut this = Self::default();\n");
        for f in s.fields.iter().filter(|f| f.tag.is_none()) {
            let present = cond(f.versions);
            if present == "false" {
                continue;
            }
            let compact = if flex {
                self.compact_for(f)
            } else {
                "false".into()
            };
            let expr = if f.is_nullable() {
                decode_nullable(f, &compact)
            } else {
                decode_value(&f.ty, &compact)
            };
            let assign = format!(
                "this.{} = (|| -> Result<_, DecodeError> {{ Ok({expr}) }})().map_err(|e| e.in_field({:?}))?;",
                f.rust_name(),
                f.name
            );
            if present == "true" {
                let _ = writeln!(out, "        {assign}");
            } else {
                let _ = writeln!(
                    out,
                    "        if {present} {{\n            {assign}\n        }}"
                );
            }
        }
        if flex {
            out.push_str("        if flexible {\n");
            out.push_str("            let mut unknown = Vec::new();\n");
            out.push_str("            d.tagged_fields(&mut unknown, |tag, d| {\n");
            out.push_str("                match tag {\n");
            for f in s.fields.iter().filter(|f| f.tag.is_some()) {
                let present = cond(f.present());
                if present == "false" {
                    continue;
                }
                let expr = if f.is_nullable() {
                    decode_nullable(f, "true")
                } else {
                    decode_value(&f.ty, "true")
                };
                let guard = if present == "true" {
                    String::new()
                } else {
                    format!(" if {present}")
                };
                let _ = writeln!(
                    out,
                    "                    {}{guard} => {{ this.{} = (|| -> Result<_, DecodeError> {{ Ok({expr}) }})().map_err(|e| e.in_field({:?}))?; Ok(true) }}",
                    f.tag.unwrap_or(0),
                    f.rust_name(),
                    f.name
                );
            }
            out.push_str(
                "                    _ => Ok(false),\n                }\n            })?;\n",
            );
            out.push_str("            this.unknown_tagged_fields = unknown;\n        }\n");
        }
        out.push_str("        Ok(this)\n    }\n\n");
    }

    fn emit_absent_check(&self, out: &mut String, f: &Field, indent: &str) {
        if f.ignorable {
            return;
        }
        let present = cond(f.present());
        if present == "true" {
            return;
        }
        let _ = writeln!(
            out,
            "{indent}if !({present}) && self.{} != {} {{ return Err(EncodeError::FieldNotInVersion {{ field: {:?}, version }}); }}",
            f.rust_name(),
            default_expr(f),
            f.name
        );
    }

    fn emit_encode(&self, out: &mut String, s: &StructDef) {
        let flex = self.spec.flexible.is_some();
        out.push_str("    #[allow(unused_variables)]\n");
        out.push_str(
            "    fn encode(&self, e: &mut Encoder, version: i16) -> Result<(), EncodeError> {\n",
        );
        if flex {
            let _ = writeln!(out, "        let flexible = {};", self.flexible_cond());
        }
        for f in s.fields.iter().filter(|f| f.tag.is_none()) {
            self.emit_absent_check(out, f, "        ");
            let present = cond(f.versions);
            if present == "false" {
                continue;
            }
            let compact = if flex {
                self.compact_for(f)
            } else {
                "false".into()
            };
            let stmt = encode_field(f, &compact);
            if present == "true" {
                let _ = writeln!(out, "        {stmt}");
            } else {
                let _ = writeln!(
                    out,
                    "        if {present} {{\n            {stmt}\n        }}"
                );
            }
        }
        if flex {
            let mut tagged: Vec<&Field> = s.fields.iter().filter(|f| f.tag.is_some()).collect();
            tagged.sort_by_key(|f| f.tag);
            out.push_str("        if flexible {\n");
            out.push_str("            let mut count = self.unknown_tagged_fields.len();\n");
            for f in &tagged {
                self.emit_absent_check(out, f, "            ");
                let _ = writeln!(
                    out,
                    "            if ({}) && self.{} != {} {{ count += 1; }}",
                    cond(f.present()),
                    f.rust_name(),
                    default_expr(f)
                );
            }
            out.push_str("            e.put_uvarint(count as u32);\n");
            out.push_str(
                "            let mut unknown = self.unknown_tagged_fields.iter().peekable();\n",
            );
            for f in &tagged {
                let tag = f.tag.unwrap_or(0);
                let _ = writeln!(
                    out,
                    "            if ({}) && self.{} != {} {{\n{skip}                e.put_uvarint({tag});\n                e.put_uvarint(({}) as u32);\n                {}\n            }}",
                    cond(f.present()),
                    f.rust_name(),
                    default_expr(f),
                    len_field(f, "true"),
                    encode_field(f, "true"),
                    skip = if tag == 0 {
                        String::new()
                    } else {
                        format!("                while let Some(u) = unknown.next_if(|u| u.tag < {tag}) {{ e.put_raw_tagged(u); }}\n")
                    }
                );
            }
            out.push_str("            for u in unknown { e.put_raw_tagged(u); }\n        }\n");
        }
        out.push_str("        Ok(())\n    }\n\n");
    }

    fn emit_len(&self, out: &mut String, s: &StructDef) {
        let flex = self.spec.flexible.is_some();
        out.push_str("    #[allow(unused_variables, unused_mut)]\n");
        out.push_str("    fn encoded_len(&self, version: i16) -> usize {\n");
        if flex {
            let _ = writeln!(out, "        let flexible = {};", self.flexible_cond());
        }
        out.push_str("        let mut n = 0usize;\n");
        for f in s.fields.iter().filter(|f| f.tag.is_none()) {
            let present = cond(f.versions);
            if present == "false" {
                continue;
            }
            let compact = if flex {
                self.compact_for(f)
            } else {
                "false".into()
            };
            let expr = len_field(f, &compact);
            if present == "true" {
                let _ = writeln!(out, "        n += {expr};");
            } else {
                let _ = writeln!(out, "        if {present} {{ n += {expr}; }}");
            }
        }
        if flex {
            out.push_str("        if flexible {\n");
            out.push_str("            let mut count = self.unknown_tagged_fields.len();\n");
            out.push_str(
                "            for u in &self.unknown_tagged_fields { n += raw_tagged_len(u); }\n",
            );
            for f in s.fields.iter().filter(|f| f.tag.is_some()) {
                let tag = f.tag.unwrap_or(0);
                let _ = writeln!(
                    out,
                    "            if ({}) && self.{} != {} {{ let len = {}; count += 1; n += uvarint_len({tag}) + uvarint_len(len as u32) + len; }}",
                    cond(f.present()),
                    f.rust_name(),
                    default_expr(f),
                    len_field(f, "true")
                );
            }
            out.push_str("            n += uvarint_len(count as u32);\n        }\n");
        }
        out.push_str("        n\n    }\n");
    }

    fn emit_sample(&self, out: &mut String, s: &StructDef) {
        let _ = writeln!(
            out,
            "#[cfg(test)]\nimpl crate::protocol::sample::Sample for {} {{",
            s.name
        );
        out.push_str("    #[allow(unused_variables)]\n");
        out.push_str(
            "    fn sample(rng: &mut crate::protocol::sample::SampleRng, version: i16) -> Self {\n",
        );
        out.push_str("        let mut this = Self::default();\n");
        for f in &s.fields {
            let present = cond(f.present());
            if present == "false" {
                continue;
            }
            let nullable = if f.is_nullable() {
                format!(
                    "rng.maybe_null({}, |rng| {})",
                    cond(f.nullable),
                    sample_value(&f.ty)
                )
            } else {
                sample_value(&f.ty)
            };
            let _ = writeln!(
                out,
                "        if {present} {{ this.{} = {nullable}; }}",
                f.rust_name()
            );
        }
        out.push_str("        this\n    }\n}\n\n");
    }
}

fn sample_value(ty: &Type) -> String {
    match ty {
        Type::Prim(Prim::Records) => "rng.bytes()".into(),
        Type::Prim(p) => format!("rng.{}()", prim_rust(p).to_lowercase()),
        Type::Struct(n) => format!("{n}::sample(rng, version)"),
        Type::Array(inner) => format!("rng.vec(|rng| {})", sample_value(inner)),
    }
}

const HEADER: &str = "// @generated by `cargo run -p xtask -- generate` from Apache Kafka's JSON message specs.\n// Do not edit: change the generator (xtask/src/lib.rs) or the specs, then regenerate.\n";

/// Generates the Rust module for one spec.
pub fn generate_module(spec: &Spec, file_name: &str) -> String {
    let ctx = Ctx { spec };
    let mut out = String::new();
    out.push_str(HEADER);
    let _ = writeln!(
        out,
        "//! `{}` ({}) from `{file_name}`.\n",
        spec.name, spec.kind
    );
    out.push_str(
        "#![allow(clippy::all, unused_imports, unused_parens, unused_mut, unused_variables)]\n\n",
    );
    out.push_str("use bytes::Bytes;\n");
    out.push_str("use crate::protocol::codec::*;\n\n");
    ctx.emit_struct(&mut out, &spec.root, true);
    let _ = writeln!(
        out,
        "impl VersionedMessage for {} {{\n    const API_KEY: i16 = {};\n    const MIN_VERSION: i16 = {};\n    const MAX_VERSION: i16 = {};\n    const FLEXIBLE_MIN: Option<i16> = {};\n}}\n",
        spec.name,
        spec.api_key.unwrap_or(-1),
        spec.valid.min,
        spec.valid.max,
        spec.flexible.map_or("None".to_string(), |f| format!("Some({})", f.min))
    );
    for s in &spec.structs {
        ctx.emit_struct(&mut out, s, false);
    }
    ctx.emit_sample(&mut out, &spec.root);
    for s in &spec.structs {
        ctx.emit_sample(&mut out, s);
    }
    out
}

/// A spec with the file stem it came from.
pub struct LoadedSpec {
    pub stem: String,
    pub file_name: String,
    pub spec: Spec,
}

fn load_dir(dir: &Path) -> Result<Vec<LoadedSpec>, String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for p in entries {
        let text =
            std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let stem = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let Some(spec) = parse_spec(&text) else {
            continue;
        };
        out.push(LoadedSpec {
            file_name: p
                .file_name()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string(),
            stem,
            spec,
        });
    }
    Ok(out)
}

/// The folder holding `messages/`, given either it or `messages/` itself.
pub fn specs_root(path: &Path) -> PathBuf {
    if path.file_name().is_some_and(|n| n == "messages") {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        path.to_path_buf()
    }
}

/// Every generated file: path relative to the repository root → contents.
pub fn generate_all(specs: &Path) -> Result<BTreeMap<String, String>, String> {
    let root = specs_root(specs);
    let mut files = BTreeMap::new();
    let groups = [
        (
            "messages",
            "messages",
            "Kafka's requests, responses, headers and embedded data types.",
        ),
        (
            "group-coordinator",
            "coordinator",
            "Records of `__consumer_offsets` (group coordinator).",
        ),
        (
            "metadata",
            "metadata",
            "KRaft cluster-metadata records (kfk's metadata log).",
        ),
    ];
    let mut message_specs = Vec::new();
    for (dir, module, doc) in groups {
        let loaded = load_dir(&root.join(dir))?;
        let mut mod_rs = String::from(HEADER);
        let _ = writeln!(mod_rs, "//! {doc}\n");
        for l in &loaded {
            let m = snake_case(&l.stem);
            let _ = writeln!(mod_rs, "pub mod {m};");
            files.insert(
                format!("src/protocol/{module}/{m}.rs"),
                generate_module(&l.spec, &l.file_name),
            );
        }
        let _ = writeln!(
            mod_rs,
            "\n/// Encode → decode → equal, and `encoded_len` = bytes written, for every spec here at\n/// every valid version.\n#[cfg(test)]\n#[test]\nfn every_spec_round_trips_at_every_valid_version() {{\n    use crate::protocol::sample::round_trip_all_versions as check;"
        );
        for l in &loaded {
            let _ = writeln!(
                mod_rs,
                "    check::<{}::{}>();",
                snake_case(&l.stem),
                l.spec.name
            );
        }
        mod_rs.push_str("}\n");
        if module == "messages" {
            let _ = writeln!(mod_rs, "\nmod api;\npub use api::*;");
            message_specs = loaded;
        }
        files.insert(format!("src/protocol/{module}/mod.rs"), mod_rs);
    }
    files.insert(
        "src/protocol/messages/api.rs".into(),
        generate_api(&message_specs),
    );
    Ok(files)
}

fn generate_api(specs: &[LoadedSpec]) -> String {
    let mut requests: Vec<&LoadedSpec> =
        specs.iter().filter(|s| s.spec.kind == "request").collect();
    requests.sort_by_key(|s| s.spec.api_key);
    let response_of = |req: &LoadedSpec| -> Option<&LoadedSpec> {
        specs
            .iter()
            .find(|s| s.spec.kind == "response" && s.spec.api_key == req.spec.api_key)
    };
    let mut out = String::from(HEADER);
    out.push_str("//! The API keys of the specs and the request/response body enums.\n\n");
    out.push_str("#![allow(clippy::all)]\n\nuse crate::protocol::codec::*;\n\n");
    out.push_str("/// A Kafka API, named as in the specs without `Request`.\n");
    out.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[repr(i16)]\npub enum ApiKey {\n");
    for r in &requests {
        let _ = writeln!(
            out,
            "    {} = {},",
            api_name(&r.spec),
            r.spec.api_key.unwrap_or(-1)
        );
    }
    out.push_str("}\n\n/// Every API key, in key order.\npub const ALL_API_KEYS: &[ApiKey] = &[\n");
    for r in &requests {
        let _ = writeln!(out, "    ApiKey::{},", api_name(&r.spec));
    }
    out.push_str("];\n\nimpl ApiKey {\n");
    out.push_str("    pub fn from_i16(key: i16) -> Option<ApiKey> {\n        match key {\n");
    for r in &requests {
        let _ = writeln!(
            out,
            "            {} => Some(ApiKey::{}),",
            r.spec.api_key.unwrap_or(-1),
            api_name(&r.spec)
        );
    }
    out.push_str("            _ => None,\n        }\n    }\n\n");
    let table = |out: &mut String, sig: &str, f: &dyn Fn(&Spec) -> String| {
        let _ = writeln!(out, "    {sig} {{\n        match self {{");
        for r in &requests {
            let _ = writeln!(
                out,
                "            ApiKey::{} => {},",
                api_name(&r.spec),
                f(&r.spec)
            );
        }
        out.push_str("        }\n    }\n\n");
    };
    out.push_str("    /// The name in the specs, without `Request`.\n");
    table(&mut out, "pub fn name(self) -> &'static str", &|s| {
        format!("{:?}", api_name(s))
    });
    out.push_str("    /// `validVersions` of the request spec.\n");
    table(
        &mut out,
        "pub fn valid_versions(self) -> (i16, i16)",
        &|s| format!("({}, {})", s.valid.min, s.valid.max),
    );
    out.push_str("    /// The highest version not marked `latestVersionUnstable`.\n");
    table(
        &mut out,
        "pub fn latest_stable_version(self) -> i16",
        &|s| {
            (if s.latest_unstable {
                s.valid.max - 1
            } else {
                s.valid.max
            })
            .to_string()
        },
    );
    out.push_str("    /// The lowest flexible version, if any.\n");
    table(&mut out, "pub fn flexible_min(self) -> Option<i16>", &|s| {
        s.flexible
            .map_or("None".into(), |f| format!("Some({})", f.min))
    });
    out.push_str("    /// Whether brokers serve this API (its `listeners` include `broker`).\n");
    table(&mut out, "pub fn is_broker_api(self) -> bool", &|s| {
        s.listeners.iter().any(|l| l == "broker").to_string()
    });
    out.push_str(
        "    /// Whether `version` is flexible (compact encodings, tagged fields).\n    pub fn is_flexible(self, version: i16) -> bool {\n        self.flexible_min().is_some_and(|min| version >= min)\n    }\n\n",
    );
    // ControlledShutdown v0 is the one request with header v0; Kafka 4.x removed the API.
    if requests
        .iter()
        .any(|r| r.stem == "ControlledShutdownRequest")
    {
        out.push_str(
            "    /// Request header version: 2 when flexible, else 1 (0 only for ControlledShutdown v0).\n    pub fn request_header_version(self, version: i16) -> i16 {\n        if self.is_flexible(version) {\n            2\n        } else if self == ApiKey::ControlledShutdown && version == 0 {\n            0\n        } else {\n            1\n        }\n    }\n\n",
        );
    } else {
        out.push_str(
            "    /// Request header version: 2 when flexible, else 1.\n    pub fn request_header_version(self, version: i16) -> i16 {\n        if self.is_flexible(version) {\n            2\n        } else {\n            1\n        }\n    }\n\n",
        );
    }
    out.push_str(
        "    /// Response header version: 1 when flexible, else 0; ApiVersions always answers with 0.\n    pub fn response_header_version(self, version: i16) -> i16 {\n        if self != ApiKey::ApiVersions && self.is_flexible(version) {\n            1\n        } else {\n            0\n        }\n    }\n}\n\n",
    );
    for (enum_name, kind) in [("RequestBody", "request"), ("ResponseBody", "response")] {
        let pick = |r: &'_ LoadedSpec| -> Option<String> {
            let s = if kind == "request" {
                Some(r)
            } else {
                response_of(r)
            }?;
            Some(format!("{}::{}", snake_case(&s.stem), s.spec.name))
        };
        let _ = writeln!(out, "/// Any {kind} body, tagged by its API.\n#[derive(Debug, Clone, PartialEq)]\npub enum {enum_name} {{");
        for r in &requests {
            if let Some(ty) = pick(r) {
                let _ = writeln!(out, "    {}(super::{ty}),", api_name(&r.spec));
            }
        }
        let _ = writeln!(out, "}}\n\nimpl {enum_name} {{");
        out.push_str(
            "    /// Decodes the body of `api_key` at `version` (the version must be valid).\n",
        );
        out.push_str("    pub fn decode(api_key: ApiKey, d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError> {\n        Ok(match api_key {\n");
        for r in &requests {
            if let Some(ty) = pick(r) {
                let n = api_name(&r.spec);
                let _ = writeln!(out, "            ApiKey::{n} => {enum_name}::{n}(super::{ty}::decode(d, version)?),");
            }
        }
        if requests.iter().any(|r| pick(r).is_none()) {
            out.push_str("            #[allow(unreachable_patterns)]\n            _ => return Err(DecodeError::new(DecodeErrorKind::UnknownApiKey { api_key: api_key as i16 })),\n");
        }
        out.push_str(
            "        })\n    }\n\n    pub fn api_key(&self) -> ApiKey {\n        match self {\n",
        );
        for r in &requests {
            if pick(r).is_some() {
                let n = api_name(&r.spec);
                let _ = writeln!(out, "            {enum_name}::{n}(_) => ApiKey::{n},");
            }
        }
        out.push_str("        }\n    }\n\n    pub fn encode(&self, e: &mut Encoder, version: i16) -> Result<(), EncodeError> {\n        match self {\n");
        for r in &requests {
            if pick(r).is_some() {
                let _ = writeln!(
                    out,
                    "            {enum_name}::{}(m) => m.encode(e, version),",
                    api_name(&r.spec)
                );
            }
        }
        out.push_str("        }\n    }\n\n    pub fn encoded_len(&self, version: i16) -> usize {\n        match self {\n");
        for r in &requests {
            if pick(r).is_some() {
                let _ = writeln!(
                    out,
                    "            {enum_name}::{}(m) => m.encoded_len(version),",
                    api_name(&r.spec)
                );
            }
        }
        out.push_str("        }\n    }\n}\n\n");
    }
    out
}

fn api_name(spec: &Spec) -> String {
    upper_camel(spec.name.strip_suffix("Request").unwrap_or(&spec.name))
}

/// Runs rustfmt over the generated files (all at once, in a scratch directory), so the
/// committed code is formatted as `cargo fmt` leaves it.
fn rustfmt_all(files: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let scratch = std::env::temp_dir().join(format!("kfk-xtask-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    // The real layout, so rustfmt follows each `mod.rs` to its children.
    let mut roots = Vec::new();
    for (rel, text) in &files {
        let path = scratch.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        if rel.ends_with("/mod.rs") {
            roots.push(path);
        }
    }
    let rustfmt = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".to_string());
    let status = std::process::Command::new(&rustfmt)
        .args(["--edition", "2021"])
        .args(&roots)
        .status()
        .map_err(|e| format!("cannot run {rustfmt}: {e}"))?;
    if !status.success() {
        return Err(format!("{rustfmt} failed on the generated code ({status})"));
    }
    let mut out = BTreeMap::new();
    for rel in files.into_keys() {
        let path = scratch.join(&rel);
        out.insert(
            rel,
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(out)
}

/// Every generated file, formatted: path relative to the repository root → contents.
pub fn render_all(specs: &Path) -> Result<BTreeMap<String, String>, String> {
    rustfmt_all(generate_all(specs)?)
}

/// Writes the generated files under `repo`, returning the paths written.
pub fn write_all(specs: &Path, repo: &Path) -> Result<Vec<String>, String> {
    let files = render_all(specs)?;
    for (rel, text) in &files {
        let path = repo.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(files.into_keys().collect())
}

/// Paths whose committed text differs from what the generator would write (or that are
/// missing), and generated-folder files the generator would not write.
pub fn stale_files(specs: &Path, repo: &Path) -> Result<Vec<String>, String> {
    let files = render_all(specs)?;
    let mut stale = Vec::new();
    for (rel, text) in &files {
        match std::fs::read_to_string(repo.join(rel)) {
            Ok(existing) if existing == *text => {}
            _ => stale.push(rel.clone()),
        }
    }
    for module in ["messages", "coordinator", "metadata"] {
        let dir = repo.join("src/protocol").join(module);
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
        {
            let rel = format!(
                "src/protocol/{module}/{}",
                entry.file_name().to_string_lossy()
            );
            if !files.contains_key(&rel) {
                stale.push(rel);
            }
        }
    }
    Ok(stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_follows_kafka_names() {
        assert_eq!(
            snake_case("ClusterAuthorizedOperations"),
            "cluster_authorized_operations"
        );
        assert_eq!(snake_case("ISRNodes"), "isr_nodes");
        assert_eq!(snake_case("TopicId"), "topic_id");
        assert_eq!(snake_case("group"), "group");
        assert_eq!(snake_case("type"), "r#type");
    }

    #[test]
    fn version_ranges_parse_as_the_specs_write_them() {
        assert_eq!(parse_versions("3+"), Some(Versions { min: 3, max: OPEN }));
        assert_eq!(parse_versions("0-2"), Some(Versions { min: 0, max: 2 }));
        assert_eq!(parse_versions("none"), None);
        assert_eq!(cond(parse_versions("0+")), "true");
        assert_eq!(cond(parse_versions("4-7")), "(4..=7).contains(&version)");
    }

    /// The committed generated code equals what the generator writes from the specs. Runs
    /// where the specs exist (`KFK_SPECS` or `../shared/kafka-protocol-4.4`, as in CI).
    #[test]
    fn committed_generated_code_is_not_stale() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let specs = std::env::var("KFK_SPECS")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo.join("../shared/kafka-protocol-4.4"));
        if !specs.exists() {
            if std::env::var("KFK_REQUIRE_INTEROP").as_deref() == Ok("1") {
                panic!("specs folder {} is missing", specs.display());
            }
            println!(
                "SKIPPED committed_generated_code_is_not_stale: needs {}",
                specs.display()
            );
            return;
        }
        let stale = stale_files(&specs, &repo).expect("generate");
        assert!(
            stale.is_empty(),
            "generated code is stale, run `cargo run -p xtask -- generate`: {stale:?}"
        );
    }
}
