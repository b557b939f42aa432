//! The words a grid office's spreadsheets use: Chinese or English column headers and values, mapped
//! to the names the server uses. Unknown words pass through unchanged and are then refused by the
//! same checks the API applies, with the column named.

/// The canonical column name for a header cell (trimmed, case-insensitive for English).
pub fn column(header: &str) -> String {
    let h = header.trim().trim_start_matches('\u{feff}');
    let canonical = match h {
        "编码" | "代码" | "编号" | "区划代码" | "户编号" | "班组编码" => "code",
        "上级编码" | "上级代码" | "上级区划代码" => "parent_code",
        "类型" | "级别" | "层级" => "kind",
        "名称" | "班组名称" => "name",
        "区域编码" | "所属区域编码" | "网格编码" | "所属网格编码" => "area_code",
        "类别" | "负责类别" | "问题类别" => "categories",
        "用户名" | "账号" => "username",
        "姓名" | "显示名" => "display_name",
        "角色" => "role",
        "所属班组编码" | "维修班组编码" => "team_code",
        "密码" | "初始密码" => "password",
        "地址" | "住址" => "address",
        "户主" | "户主姓名" => "head_name",
        "电话" | "联系电话" | "手机" => "phone",
        "取暖方式" | "供暖方式" | "采暖方式" => "heating",
        "标签" | "重点人群" => "tags",
        "模板编码" | "清单编码" | "模板" => "template_id",
        "模板名称" | "清单名称" => "template_name",
        "项目编码" | "键" | "字段" => "key",
        "项目" | "项目名称" | "问题" | "检查项" => "label",
        "题型" | "答案类型" => "type",
        "必填" | "是否必填" => "required",
        "选项" | "可选项" => "choices",
        "单位" => "unit",
        "最小值" | "下限" => "min",
        "最大值" | "上限" => "max",
        other => return other.to_ascii_lowercase().replace([' ', '-'], "_"),
    };
    canonical.to_owned()
}

pub fn kind(v: &str) -> &str {
    match v {
        "省" => "province",
        "市" | "地级市" => "city",
        "县" | "区" | "县区" => "county",
        "乡镇" | "镇" | "乡" | "街道" => "town",
        "社区" | "村" | "村社区" => "community",
        "网格" => "grid",
        other => other,
    }
}

pub fn role(v: &str) -> &str {
    match v {
        "志愿者" | "网格员" | "走访人员" => "volunteer",
        "维修人员" | "处置人员" | "维修工" => "handler",
        "调度员" | "专班调度" => "dispatcher",
        "督导" | "督查" | "督导员" => "supervisor",
        "管理员" => "admin",
        other => other,
    }
}

pub fn heating(v: &str) -> &str {
    match v {
        "集中供暖" | "集中供热" | "集中" => "central",
        "燃煤" | "煤" | "烧煤" => "coal",
        "燃气" | "天然气" | "气" => "gas",
        "电" | "电采暖" | "电暖" => "electric",
        "其他" | "其它" => "other",
        other => other,
    }
}

/// A checklist item's type.
pub fn item_type(v: &str) -> &str {
    match v {
        "是否" | "判断" | "是/否" => "bool",
        "数字" | "数值" => "number",
        "文本" | "文字" => "text",
        "单选" | "选择" => "choice",
        other => other,
    }
}

pub fn tag(v: &str) -> &str {
    match v {
        "独居老人" => "elderly_alone",
        "空巢老人" => "elderly",
        "残疾" | "残疾人" => "disabled",
        "低保" | "低保户" => "low_income",
        other => other,
    }
}

/// A list cell: items separated by `;`, `；`, `|` or `、`, blanks dropped.
pub fn list(cell: &str) -> Vec<String> {
    cell.split([';', '；', '|', '、']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_headers_and_values_map_to_the_api_names() {
        assert_eq!(column("\u{feff}编码"), "code");
        assert_eq!(column(" Parent Code "), "parent_code");
        assert_eq!(kind("网格"), "grid");
        assert_eq!(role("调度员"), "dispatcher");
        assert_eq!(heating("燃煤"), "coal");
        assert_eq!(list("独居老人；低保 | ;"), vec!["独居老人", "低保"]);
        assert_eq!(heating("steam"), "steam");
    }
}
