// 100 varied sentences for the encoder's reference comparisons: short and long, punctuation,
// numbers, accents, other languages and scripts, emoji, odd spacing.
// Why: one fixed set keeps the model test and the README figures comparable. Depends on nothing.
#pragma once

#include <array>
#include <string_view>

namespace parley::encoder::testing {

inline constexpr std::array<std::string_view, 100> kSentences = {
    "Hello world!",
    "hi",
    "?",
    "Book a table for 4 at 7pm tomorrow.",
    "What is the capital of France?",
    "The quick brown fox jumps over the lazy dog.",
    "I'd like to cancel my order #48213, please.",
    "Can you transfer $1,250.75 from checking to savings?",
    "My flight UA 921 departs at 06:45 on 2024-03-17.",
    "Set an alarm for 5:30 a.m.",
    "Turn the living-room lights down to 30%.",
    "Is it going to rain in Seattle this weekend?",
    "Play some jazz music by Miles Davis.",
    "Remind me to call mom when I get home.",
    "How many calories are in a medium banana?",
    "The meeting was moved from Tuesday to Thursday afternoon.",
    "Please reset my password; I can't log in anymore!!!",
    "WHY IS MY INTERNET SO SLOW TODAY",
    "why is my internet so slow today",
    "   leading and trailing spaces   ",
    "tabs\tand\nnewlines\r\ninside",
    "Café au lait, crème brûlée and a piña colada.",
    "Zürich, Genève, São Paulo, Kraków, Reykjavík.",
    "Naïve résumé façade coöperate.",
    "¿Dónde está la estación de tren más cercana?",
    "Je voudrais réserver une chambre pour deux nuits.",
    "Ich möchte einen Tisch für vier Personen reservieren.",
    "Vorrei prenotare un volo per Roma domani mattina.",
    "Eu gostaria de falar com um atendente, por favor.",
    "Ik wil mijn abonnement opzeggen.",
    "Hur mycket kostar en biljett till Stockholm?",
    "Zamówiłem pizzę godzinę temu i nadal jej nie ma.",
    "Мне нужно изменить адрес доставки.",
    "Γεια σου κόσμε, τι κάνεις;",
    "東京の天気はどうですか？",
    "我想预订明天去上海的火车票。",
    "서울에서 부산까지 얼마나 걸리나요?",
    "مرحبا، كيف يمكنني مساعدتك اليوم؟",
    "שלום, מה שלומך?",
    "नमस्ते, आप कैसे हैं?",
    "สวัสดีครับ ยินดีที่ได้รู้จัก",
    "Xin chào, bạn có khỏe không?",
    "Merhaba, bugün hava çok güzel.",
    "I love this! 😍🔥",
    "Order status? 📦➡️🏠",
    "👍",
    "Great job team 🎉🎉🎉 let's celebrate 🍕🍺",
    "The temperature dropped to -12.5°C overnight.",
    "Call me at +1 (555) 010-9999 or email jane.doe@example.com.",
    "Visit https://example.org/path?query=1&x=y for details.",
    "E = mc^2 and a^2 + b^2 = c^2.",
    "3.14159265358979323846264338327950288419716939937510",
    "1234567890 0987654321 1111111111",
    "The invoice total is €3.499,00 (incl. 19% VAT).",
    "He said, \"It's not my fault,\" and left.",
    "Wait... what?! No way -- that's impossible.",
    "(parenthetical) [bracketed] {braced} <angled>",
    "semi;colon:separated,list|of/items\\here",
    "C++ vs. C# vs. F# — which one should I learn?",
    "I'm gonna grab a coffee, wanna come?",
    "u r so gr8 lol, ttyl",
    "teh qiuck borwn fxo jmups",
    "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis is a lung disease.",
    "antidisestablishmentarianism",
    "The mitochondria is the powerhouse of the cell.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "In 1969, Apollo 11 landed the first humans on the Moon.",
    "The Treaty of Westphalia was signed in 1648.",
    "Water boils at 100 degrees Celsius at sea level.",
    "Machine learning models require large amounts of training data.",
    "The stock market fell sharply after the announcement.",
    "She sells seashells by the seashore.",
    "To be, or not to be, that is the question.",
    "All happy families are alike; each unhappy family is unhappy in its own way.",
    "It was the best of times, it was the worst of times.",
    "A journey of a thousand miles begins with a single step.",
    "The patient presented with acute abdominal pain and fever of 39.2 °C.",
    "Take two tablets (500 mg) every 6 hours as needed.",
    "Section 4(b)(ii) of the agreement shall survive termination.",
    "def f(x): return x * 2  # doubles the input",
    "SELECT name, age FROM users WHERE age > 30 ORDER BY name;",
    "{\"key\": \"value\", \"list\": [1, 2, 3]}",
    "<html><body><p>Hello</p></body></html>",
    "#hashtag @mention $TICKER %percent &ampersand",
    "!!!???...,,,;;;:::",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "Q: What's 2+2? A: 4.",
    "Mr. and Mrs. Smith arrived at 10 a.m. on Jan. 5th.",
    "The U.S.A., the U.K. and the E.U. signed the deal.",
    "Ünïcödé characters everywhere: ñ, ç, ø, å, ß, æ, œ.",
    "Mixed 日本語 and English text in one sentence.",
    "Emoji with skin tones: 👋🏽 👍🏿 and flags: 🇫🇷 🇯🇵",
    "Zero-width joiner family: 👨‍👩‍👧‍👦",
    "I need help with my account. I tried resetting my password three times but the email never "
    "arrives, and the support chat keeps disconnecting after a few minutes. Could someone please "
    "call me back at the number on file? I have been a customer for over ten years.",
    "The encoder processes each sentence independently, producing a fixed-size vector that captures "
    "its meaning; similar sentences map to nearby vectors, which makes retrieval, clustering and "
    "intent classification possible without task-specific training for every new domain.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco "
    "laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in "
    "voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat "
    "non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.",
    "In the beginning the Universe was created. This has made a lot of people very angry and been "
    "widely regarded as a bad move. Many were increasingly of the opinion that they'd all made a big "
    "mistake in coming down from the trees in the first place, and some said that even the trees had "
    "been a bad move, and that no one should ever have left the oceans. Far out in the uncharted "
    "backwaters of the unfashionable end of the western spiral arm of the Galaxy lies a small "
    "unregarded yellow sun. Orbiting this at a distance of roughly ninety-two million miles is an "
    "utterly insignificant little blue green planet whose ape-descended life forms are so amazingly "
    "primitive that they still think digital watches are a pretty neat idea. This planet has, or "
    "rather had, a problem, which was this: most of the people living on it were unhappy for pretty "
    "much all of the time. Many solutions were suggested for this problem, but most of these were "
    "largely concerned with the movements of small green pieces of paper, which is odd because on the "
    "whole it wasn't the small green pieces of paper that were unhappy.",
    "OK",
    "",  // empty input: [CLS] [SEP] only
};

}  // namespace parley::encoder::testing
