//! Name, street and place lists for synthetic profiles, by culture.

/// A culture: names, places and contact formats.
pub(crate) struct Culture {
    pub(crate) country: &'static str,
    pub(crate) language: &'static str,
    pub(crate) phone_prefix: &'static str,
    pub(crate) given_female: &'static [&'static str],
    pub(crate) given_male: &'static [&'static str],
    pub(crate) family: &'static [&'static str],
    pub(crate) streets: &'static [&'static str],
    /// (city, postcode prefix)
    pub(crate) cities: &'static [(&'static str, &'static str)],
}

pub(crate) const CULTURES: &[Culture] = &[
    Culture {
        country: "DE",
        language: "de",
        phone_prefix: "+49",
        given_female: &["Anna", "Lena", "Sophie", "Marie", "Julia", "Katharina", "Laura", "Sabine", "Ursula", "Jana", "Lea", "Mia", "Petra", "Claudia", "Monika"],
        given_male: &["Lukas", "Jonas", "Leon", "Felix", "Maximilian", "Thomas", "Michael", "Stefan", "Andreas", "Jörg", "Klaus", "Tobias", "Matthias", "Uwe", "Paul"],
        family: &["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Werner", "Krause"],
        streets: &["Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße", "Lindenstraße", "Goethestraße"],
        cities: &[("Berlin", "10"), ("Hamburg", "20"), ("München", "80"), ("Köln", "50"), ("Frankfurt am Main", "60"), ("Stuttgart", "70"), ("Leipzig", "04"), ("Düsseldorf", "40")],
    },
    Culture {
        country: "GB",
        language: "en",
        phone_prefix: "+44",
        given_female: &["Olivia", "Amelia", "Isla", "Emily", "Sophie", "Grace", "Charlotte", "Jessica", "Hannah", "Ella", "Chloe", "Lucy"],
        given_male: &["Oliver", "George", "Harry", "Jack", "Charlie", "Thomas", "James", "William", "Daniel", "Samuel", "Joseph", "Edward"],
        family: &["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke"],
        streets: &["High Street", "Station Road", "Main Street", "Park Road", "Church Road", "Victoria Road", "Green Lane", "Manor Road"],
        cities: &[("London", "SW1"), ("Manchester", "M1"), ("Birmingham", "B1"), ("Leeds", "LS1"), ("Glasgow", "G1"), ("Bristol", "BS1")],
    },
    Culture {
        country: "FR",
        language: "fr",
        phone_prefix: "+33",
        given_female: &["Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Émilie", "Céline", "Hélène", "Zoé"],
        given_male: &["Lucas", "Hugo", "Louis", "Gabriel", "Jules", "Théo", "Raphaël", "Étienne", "Mathieu", "Nicolas"],
        family: &["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "François"],
        streets: &["Rue de la Paix", "Rue Victor Hugo", "Avenue Jean Jaurès", "Rue Pasteur", "Rue de l'Église", "Boulevard Voltaire"],
        cities: &[("Paris", "75"), ("Lyon", "69"), ("Marseille", "13"), ("Toulouse", "31"), ("Nice", "06"), ("Nantes", "44")],
    },
    Culture {
        country: "ES",
        language: "es",
        phone_prefix: "+34",
        given_female: &["Lucía", "María", "Paula", "Sofía", "Carmen", "Isabel", "Elena", "Marta", "Núria", "Ana"],
        given_male: &["Hugo", "Martín", "Pablo", "Alejandro", "Javier", "José", "Daniel", "Adrián", "Álvaro", "Sergio"],
        family: &["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz"],
        streets: &["Calle Mayor", "Calle Real", "Avenida de la Constitución", "Calle del Sol", "Plaza de España", "Calle Nueva"],
        cities: &[("Madrid", "28"), ("Barcelona", "08"), ("Valencia", "46"), ("Sevilla", "41"), ("Bilbao", "48"), ("Málaga", "29")],
    },
    Culture {
        country: "TR",
        language: "tr",
        phone_prefix: "+90",
        given_female: &["Zeynep", "Elif", "Ayşe", "Fatma", "Emine", "Merve", "Büşra", "Esra"],
        given_male: &["Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "Emre", "Burak", "Yusuf"],
        family: &["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir", "Arslan", "Doğan"],
        streets: &["Atatürk Caddesi", "İstiklal Caddesi", "Cumhuriyet Caddesi", "Bağdat Caddesi"],
        cities: &[("İstanbul", "34"), ("Ankara", "06"), ("İzmir", "35"), ("Bursa", "16")],
    },
    Culture {
        country: "JP",
        language: "ja",
        phone_prefix: "+81",
        given_female: &["陽菜", "結衣", "さくら", "美咲", "葵", "凛", "花子", "愛"],
        given_male: &["翔太", "大翔", "蓮", "悠真", "健太", "太郎", "拓海", "陸"],
        family: &["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田"],
        streets: &["本町", "中央通り", "駅前通り", "桜通り"],
        cities: &[("東京", "100"), ("大阪", "530"), ("横浜", "220"), ("名古屋", "450"), ("札幌", "060")],
    },
    Culture {
        country: "CN",
        language: "zh",
        phone_prefix: "+86",
        given_female: &["秀英", "桂英", "丽", "静", "敏", "婷", "芳", "娜"],
        given_male: &["伟", "强", "磊", "军", "洋", "勇", "杰", "涛"],
        family: &["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙"],
        streets: &["人民路", "解放路", "中山路", "建设路"],
        cities: &[("上海", "200"), ("北京", "100"), ("广州", "510"), ("深圳", "518")],
    },
];

/// E-mail providers, with the share of addresses at each.
pub(crate) const EMAIL_DOMAINS: &[&str] =
    &["gmail.com", "gmx.de", "web.de", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "t-online.de", "orange.fr"];

/// ASCII-safe transliteration of a name for e-mail local parts.
pub(crate) fn email_local(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mapped = match c {
            'ä' | 'Ä' => "ae",
            'ö' | 'Ö' => "oe",
            'ü' | 'Ü' => "ue",
            'ß' => "ss",
            'é' | 'è' | 'ê' | 'É' | 'È' => "e",
            'á' | 'à' | 'Á' => "a",
            'í' | 'ı' | 'İ' | 'Í' => "i",
            'ó' | 'ò' | 'Ó' => "o",
            'ú' | 'Ú' => "u",
            'ñ' => "n",
            'ç' | 'Ç' => "c",
            'ş' | 'Ş' => "s",
            'ğ' => "g",
            'ï' => "i",
            'ë' => "e",
            '\'' | ' ' | '-' => "",
            c if c.is_ascii_alphanumeric() => {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            _ => "",
        };
        out.push_str(mapped);
    }
    out
}
