"""The built-in sample set: short text conversations, written for this project, so the whole data
pipeline (rewrite, normalise, filter, synthesise, verify, tokenise) runs offline on a fresh
machine with no dataset download.

Most conversations are ones a voice assistant should learn from (`expect` "keep"): one or a few
short spoken-style exchanges, full of numbers, dates, money, percentages, units, abbreviations and
symbols ("July 20, 1969", "$4.50", "15%", "20°C", "e.g.", "&") so the normalisation stage has
something to turn into words. Others are seeded for the filter to drop, and `expect` names the
reason it should give ("code", "table", "long_form", "lyrics", "email", "markdown", "too_long"):
a build of the sample shows at a glance whether each stage does what it claims.

Keep texts are written to survive the pipeline: after `normalise_for_speech` they hold only
letters and punctuation a voice can say (no "H2O", "5G", "/" or accents) and answers stay within
the 40-word spoken limit. Every fact is meant to be correct; none of the text comes from a public
dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal

KEEP = "keep"
DROP_REASONS = ("code", "table", "long_form", "lyrics", "email", "markdown", "too_long")

Exchange = tuple[str, str]  # (user question, assistant answer)

# ---------------------------------------------------------------------------------------------
# Hand-written single exchanges, by topic. Answers are one or two sentences a voice can say.
# ---------------------------------------------------------------------------------------------

_GEOGRAPHY: tuple[Exchange, ...] = (
    ("What's the longest river in the world?",
     "It's usually said to be the Nile, at about 6,650 km, though some measurements put the "
     "Amazon slightly ahead."),
    ("How tall is Mount Everest?",
     "Mount Everest is 8,849 m tall, about 29,032 ft, according to the survey China & Nepal "
     "announced in 2020."),
    ("What's the largest ocean?",
     "The Pacific is the largest ocean, covering about a third of Earth's surface."),
    ("Which is the smallest country in the world?",
     "Vatican City, at about 0.44 square kilometres, is the smallest country. It sits entirely "
     "inside Rome."),
    ("How many continents are there?",
     "Most people count 7: Africa, Antarctica, Asia, Australia, Europe, North America & South "
     "America."),
    ("What's the largest desert on Earth?",
     "Antarctica is the largest desert, since it gets so little snow or rain. The largest hot "
     "desert is the Sahara."),
    ("Where is the Great Barrier Reef?",
     "It lies off the coast of Queensland in northeast Australia and stretches for more than "
     "2,300 km."),
    ("What's the deepest point in the ocean?",
     "The Challenger Deep, in the Mariana Trench in the western Pacific, is nearly 11 km deep."),
    ("How many countries are in the European Union?",
     "The EU has 27 member countries, since the U.K. left on January 31, 2020."),
    ("How many people live on Earth?",
     "The world passed 8 billion people in November 2022, according to the U.N."),
    ("Which country has the most people?",
     "India overtook China as the most populous country in 2023. Each has a little over 1.4 "
     "billion people."),
    ("What's the highest waterfall in the world?",
     "Angel Falls in Venezuela is the highest, at about 979 m, which is more than 3,200 ft."),
    ("What's the largest lake in the world?",
     "By area it's the Caspian Sea, which is salty. The largest freshwater lake by area is Lake "
     "Superior."),
    ("What's the tallest mountain in North America?",
     "Denali in Alaska is the tallest, at about 6,190 m, or roughly 20,310 ft."),
)

_SCIENCE: tuple[Exchange, ...] = (
    ("What's the boiling point of water?",
     "At sea level water boils at 100°C, which is 212°F. High up a mountain it boils at a lower "
     "temperature."),
    ("How fast does light travel?",
     "Light travels about 300,000 km every second, fast enough to circle Earth about 7.5 times "
     "in 1 second."),
    ("How long does sunlight take to reach us?",
     "About 8 minutes and 20 seconds, because the Sun is roughly 150 million km away."),
    ("Why is the sky blue?",
     "Air molecules scatter blue light from the Sun much more than red light, so blue reaches "
     "our eyes from every part of the sky."),
    ("What's absolute zero?",
     "Absolute zero is the coldest possible temperature, -273.15°C or -459.67°F, where atoms "
     "have the least energy they can."),
    ("What is photosynthesis?",
     "It's how plants use sunlight, water & carbon dioxide to make sugar for energy, giving off "
     "oxygen as a by-product."),
    ("How many bones are in the human body?",
     "An adult has 206 bones. Babies start with around 300, and many fuse together as they "
     "grow."),
    ("What's the speed of sound?",
     "In air at 20°C, sound travels about 343 m every second, which is roughly 1,235 km/h."),
    ("What is DNA?",
     "DNA, short for deoxyribonucleic acid, is the molecule that carries the instructions for "
     "how living things grow and work."),
    ("What's the most common gas in the air?",
     "Nitrogen makes up about 78% of the air we breathe. Oxygen is about 21%, and argon nearly "
     "1%."),
    ("How strong is gravity on the Moon?",
     "The Moon's gravity is about a sixth of Earth's, so a 60 kg astronaut feels about as heavy "
     "as 10 kg does at home."),
    ("What's the pH of pure water?",
     "Pure water at 25°C has a pH of 7, which is neutral. Lower numbers are acidic and higher "
     "ones are alkaline."),
    ("What is an atom made of?",
     "An atom has a tiny nucleus of protons & neutrons, with electrons around it. Nearly all of "
     "its mass is in the nucleus."),
    ("Why do we have seasons?",
     "Earth's axis is tilted by about 23.5°, so each half of the planet gets more direct sunlight "
     "for part of the year."),
    ("What's the hardest natural material?",
     "Diamond is the hardest natural material, scoring 10 on the Mohs scale. It's pure carbon "
     "in a tight crystal."),
    ("Why does ice float?",
     "Water expands by about 9% when it freezes, so ice is less dense than liquid water and "
     "floats on top."),
    ("What is a magnet?",
     "A magnet is an object whose atoms line up so their tiny magnetic fields add together, "
     "pulling on iron and pushing or pulling other magnets."),
)

_ANIMALS: tuple[Exchange, ...] = (
    ("How fast can a cheetah run?",
     "A cheetah can reach about 100 km/h, over 60 mph, but only in short bursts of around 20 to "
     "30 seconds."),
    ("What's the largest animal that ever lived?",
     "The blue whale is the largest animal known. It can grow to about 30 m long and weigh over "
     "150 tonnes."),
    ("How long is an elephant pregnant?",
     "An elephant pregnancy lasts about 22 months, the longest of any land mammal."),
    ("Do octopuses really have three hearts?",
     "Yes: 2 hearts pump blood through the gills, and 1 pumps it around the body. Their blood is "
     "blue, too."),
    ("How many legs does a spider have?",
     "Spiders have 8 legs, while insects have 6, which is an easy way to tell them apart."),
    ("How long do cats usually live?",
     "Indoor cats often live 12 to 18 years, and some reach their 20s. Outdoor cats tend to "
     "have shorter lives."),
    ("Why do cats purr?",
     "Cats often purr when they're content, but also when stressed or hurt, so it may help calm "
     "them as well."),
    ("How much do koalas sleep?",
     "Koalas sleep or rest about 18 to 22 hours a day, because their diet of eucalyptus leaves "
     "gives them very little energy."),
    ("What's the fastest bird?",
     "The peregrine falcon is the fastest, diving at over 300 km/h, about 190 mph, when it "
     "hunts."),
    ("Are bats blind?",
     "No, bats can see. Many also use echolocation, listening for the echoes of their calls to "
     "find insects in the dark."),
    ("How long can a camel go without water?",
     "In hot weather a camel can go about a week without drinking, then gulp down around 100 L "
     "in one go."),
    ("Do goldfish really have a three-second memory?",
     "No, that's a myth. Goldfish can remember things for months and can be trained to respond "
     "to sounds or colours."),
    ("Where do penguins live?",
     "Almost all penguins live in the Southern Hemisphere, from Antarctica to South Africa, "
     "Australia & South America."),
    ("How much does an elephant eat in a day?",
     "An adult elephant can eat around 150 kg of food a day, mostly grass, leaves & bark."),
    ("Why do dogs pant?",
     "Dogs pant to cool down. They can't sweat much through their skin, so they lose heat by "
     "breathing fast over a wet tongue."),
    ("How long do tortoises live?",
     "Many tortoises live over 100 years. Jonathan, a giant tortoise on St. Helena, was "
     "believed to be about 190 in 2022."),
)

_FOOD: tuple[Exchange, ...] = (
    ("How long should I boil an egg?",
     "For a soft yolk, boil a large egg for about 6 minutes; for hard-boiled, 10 to 12 minutes, "
     "then cool it in cold water."),
    ("What temperature should chicken be cooked to?",
     "Chicken is safe when the thickest part reaches 74°C, which is 165°F, on a meat "
     "thermometer."),
    ("How do I cook rice on the stove?",
     "Rinse 1 cup of white rice, add about 1.5 cups of water, bring it to a boil, then cover and "
     "simmer on low for 15 to 18 minutes."),
    ("Is a tomato a fruit or a vegetable?",
     "Botanically it's a fruit, because it grows from the flower and holds seeds, but cooks "
     "treat it as a vegetable."),
    ("What's the difference between baking soda and baking powder?",
     "Baking soda needs an acid, e.g. buttermilk or lemon juice, to make bubbles. Baking powder "
     "already contains its own acid."),
    ("Where does chocolate come from?",
     "Chocolate is made from cacao beans, the seeds of the cacao tree, which grows in tropical "
     "places like West Africa & South America."),
    ("How much caffeine is in a cup of coffee?",
     "A typical 240 ml cup of brewed coffee has about 80 to 100 milligrams of caffeine, though "
     "it varies a lot."),
    ("How long do leftovers keep in the fridge?",
     "Most cooked leftovers keep safely for 3 to 4 days in a fridge at 4°C, or 40°F, or below."),
    ("What is sushi?",
     "Sushi is a Japanese dish built around vinegared rice, often with raw fish, seafood or "
     "vegetables. Raw fish on its own is sashimi."),
    ("Why do onions make you cry?",
     "Cutting an onion releases a gas that irritates your eyes, so they make tears to wash it "
     "away. A sharp knife & a cold onion help."),
    ("How many calories are in a banana?",
     "A medium banana has about 105 calories, mostly from natural sugars, plus some fibre & "
     "potassium."),
    ("What's the hottest chili pepper?",
     "Pepper X took the Guinness record in 2023, beating the Carolina Reaper, which had held it "
     "for about 10 years."),
    ("How do I make a good cup of tea?",
     "Pour freshly boiled water over the tea and steep black tea for 3 to 5 minutes. Green tea "
     "prefers water around 80°C and 2 to 3 minutes."),
    ("How much is a pinch of salt?",
     "A pinch is roughly a sixteenth of a teaspoon, about what you can hold between your thumb "
     "& finger."),
    ("Why does bread go stale?",
     "The starch in bread slowly recrystallises and pushes out water, so it turns firm and dry, "
     "fastest in the fridge."),
)

_EVERYDAY: tuple[Exchange, ...] = (
    ("How can I fall asleep faster?",
     "Keep a regular bedtime, put screens away an hour before bed, and keep your bedroom cool, "
     "around 18°C."),
    ("How do I get a stain out of a shirt?",
     "Act quickly: blot it, don't rub, rinse the back with cold water, then work in a little "
     "liquid detergent before washing."),
    ("How often should I water houseplants?",
     "Most houseplants want water when the top 2 to 3 cm of soil is dry, often about once a "
     "week. Overwatering kills more plants than thirst."),
    ("How do I stay focused while working?",
     "Try 25-minute blocks of work with 5-minute breaks, silence notifications, and decide on "
     "the one task that matters most today."),
    ("What's a simple way to save money?",
     "Move a fixed amount, e.g. 10% of each paycheck, into savings as soon as you're paid, "
     "before you spend anything."),
    ("How do I remember people's names?",
     "Repeat the name as soon as you hear it, link it to something memorable, and use it once "
     "more before you say goodbye."),
    ("How long should a nap be?",
     "A short nap of 10 to 20 minutes boosts alertness without leaving you groggy. Longer naps "
     "can pull you into deep sleep."),
    ("How do I keep cut flowers fresh?",
     "Trim the stems at an angle, remove leaves below the waterline, and change the water every "
     "2 days."),
    ("What should I pack for a day hike?",
     "Bring water, snacks, a map, sun protection, a rain jacket & a small first-aid kit. In "
     "warm weather plan on about 0.5 L of water an hour."),
    ("How can I make my phone battery last longer?",
     "Lower the screen brightness, turn off Bluetooth & location when you don't need them, and "
     "close apps running in the background."),
    ("How do I unclog a sink without chemicals?",
     "Try a plunger first. If that fails, pour in boiling water, or clean out the trap under "
     "the sink with a bucket beneath it."),
    ("What's the best way to learn a new language?",
     "Practise a little every day, e.g. 15 to 20 minutes, listen to real speech, and start "
     "speaking early, even with mistakes."),
    ("How do I stop my glasses from fogging up?",
     "Wash the lenses with a drop of dish soap and let them air-dry, and make sure a mask fits "
     "snugly over your nose."),
)

_HEALTH: tuple[Exchange, ...] = (
    ("How much water should I drink a day?",
     "The U.S. National Academies suggest about 2.7 L a day for women & 3.7 L for men, counting "
     "all drinks and food."),
    ("How much sleep do adults need?",
     "Most adults need 7 to 9 hours a night. Teenagers need a bit more, about 8 to 10 hours."),
    ("How much exercise should I get?",
     "The WHO recommends at least 150 minutes of moderate activity a week, e.g. brisk walking, "
     "plus strength exercises on 2 days."),
    ("What's a normal body temperature?",
     "A normal body temperature is around 37°C, or 98.6°F, though a little higher or lower can "
     "be normal too."),
    ("What's a normal resting heart rate?",
     "For most adults, 60 to 100 beats a minute at rest is normal. Very fit athletes can be as "
     "low as 40."),
    ("How long should I wash my hands?",
     "Scrub with soap for at least 20 seconds, covering your palms, the backs of your hands, "
     "between your fingers & under your nails."),
    ("Is cracking your knuckles bad for you?",
     "Studies haven't linked knuckle cracking to arthritis. The pop comes from gas bubbles in "
     "the fluid of the joint."),
    ("What's a healthy blood pressure?",
     "For adults, a reading under 120 over 80 is normal. From 130 over 80 upward counts as high "
     "blood pressure in U.S. guidelines."),
    ("How often should I see a dentist?",
     "Many dentists suggest a check-up every 6 to 12 months, though yours may advise a different "
     "schedule."),
    ("How should I use sunscreen?",
     "Use SPF 30 or higher, about a shot glass full for your whole body, and reapply every 2 "
     "hours or after swimming."),
    ("What's a quick way to calm down?",
     "Breathe in slowly for 4 seconds and out for 6, for a couple of minutes. Longer out-breaths "
     "help your body relax."),
    ("How many steps a day should I walk?",
     "10,000 is a popular goal, but studies find health benefits start well below it, around "
     "7,000 to 8,000 steps a day."),
    ("How long does a cold usually last?",
     "A common cold usually clears up in 7 to 10 days. See a doctor if it gets worse or you have "
     "a high fever."),
)

_LANGUAGE: tuple[Exchange, ...] = (
    ("What's a homophone?",
     "Homophones sound the same but differ in meaning or spelling, e.g. 'two', 'too' and "
     "'to'."),
    ("What's the difference between affect and effect?",
     "Usually 'affect' is a verb meaning to influence, and 'effect' is a noun meaning a result. "
     "Noise affects sleep; the effect is tiredness."),
    ("What does FAQ stand for?",
     "FAQ stands for frequently asked questions: a list of common questions & their answers, "
     "e.g. on a website."),
    ("What's a palindrome?",
     "A palindrome reads the same forwards and backwards, like 'level', 'radar' or the number "
     "12321."),
    ("How many letters are in the English alphabet?",
     "There are 26 letters: the 5 vowels a, e, i, o & u, plus 21 consonants."),
    ("What does RSVP mean?",
     "RSVP comes from a French phrase meaning 'please reply'. It asks guests to say whether "
     "they're coming."),
    ("What's the most spoken language in the world?",
     "Counting second-language speakers, it's English, with about 1.5 billion. Mandarin Chinese "
     "has the most native speakers."),
    ("When do I use fewer and when less?",
     "Use 'fewer' for things you can count, e.g. fewer cars, and 'less' for amounts, e.g. less "
     "traffic."),
    ("What's an oxymoron?",
     "An oxymoron puts two opposite ideas side by side, e.g. 'deafening silence' or 'jumbo "
     "shrimp'."),
    ("What's an acronym?",
     "An acronym is a word made from initials and said as a word, like NASA. Ones spelled letter "
     "by letter, like FBI, are initialisms."),
    ("What's the difference between its and it's?",
     "'It's' is short for 'it is' or 'it has', while 'its' shows belonging, as in 'the dog "
     "wagged its tail'."),
    ("What's a synonym?",
     "A synonym is a word that means the same, or nearly the same, as another, e.g. 'big' and "
     "'large'. Opposites are antonyms."),
    ("How do you say thank you in Japanese?",
     "You say 'arigato', and a more polite form is 'arigato gozaimasu'."),
    ("How do you say hello in Spanish?",
     "'Hola' means hello. 'Buenos dias' is good morning, and 'buenas noches' is good night."),
    ("What's the plural of cactus?",
     "Both 'cacti' and 'cactuses' are correct. 'Cacti' follows the Latin, and 'cactuses' is the "
     "regular English plural."),
)

_HISTORY: tuple[Exchange, ...] = (
    ("When did humans first land on the Moon?",
     "Apollo 11 landed on July 20, 1969, and Neil Armstrong became the first person to walk on "
     "the Moon."),
    ("When did World War II end?",
     "It ended in 1945: Germany surrendered in May, and Japan formally surrendered on September "
     "2, 1945."),
    ("When did the Berlin Wall fall?",
     "The Berlin Wall opened on November 9, 1989, and Germany reunified on October 3, 1990."),
    ("Who was the first U.S. president?",
     "George Washington was the first U.S. president, serving from 1789 to 1797."),
    ("When did the Titanic sink?",
     "The Titanic hit an iceberg late on April 14, 1912, and sank early the next morning. More "
     "than 1,500 people died."),
    ("When was the printing press invented?",
     "Johannes Gutenberg developed his movable-type press around 1440, and printed his famous "
     "Bible in Mainz, Germany, in the 1450s."),
    ("When did the French Revolution start?",
     "It's usually dated to 1789. The storming of the Bastille, on July 14, 1789, is still "
     "France's national day."),
    ("Who built the pyramids of Giza?",
     "Ancient Egyptians built them about 4,500 years ago. The Great Pyramid was made for Pharaoh "
     "Khufu, around 2560 BC."),
    ("When did the first airplane fly?",
     "Orville & Wilbur Wright made the first powered flight on December 17, 1903, near Kitty "
     "Hawk. It lasted 12 seconds."),
    ("When did the Roman Empire fall?",
     "The Western Roman Empire is usually said to have fallen in AD 476. The Eastern Empire "
     "lasted until 1453."),
    ("When was the Declaration of Independence adopted?",
     "The Continental Congress adopted it on July 4, 1776, in Philadelphia, and most delegates "
     "signed it on August 2."),
    ("When did Columbus reach the Americas?",
     "Christopher Columbus reached an island in the Bahamas on October 12, 1492, on his first "
     "voyage."),
    ("When did Nelson Mandela become president?",
     "Nelson Mandela became South Africa's president on May 10, 1994, after 27 years in prison."),
    ("When was the World Wide Web invented?",
     "Tim Berners-Lee proposed it at CERN in March 1989, and the first website went online in "
     "1991."),
    ("Who was Marie Curie?",
     "Marie Curie was a physicist & chemist who studied radioactivity. She was the first person "
     "to win 2 Nobel Prizes, in 1903 and 1911."),
)

_MATH: tuple[Exchange, ...] = (
    ("What's the value of pi?",
     "Pi is about 3.14159. It's a circle's circumference divided by its diameter, and its digits "
     "never end or repeat."),
    ("What's a prime number?",
     "A prime is a whole number above 1 that divides only by 1 and itself, like 2, 3, 5, 7 and "
     "11."),
    ("What's the square root of 144?",
     "The square root of 144 is 12, because 12 × 12 is 144."),
    ("How many degrees are in a triangle?",
     "The angles of any triangle add up to 180°, and those of a square add up to 360°."),
    ("What's a quarter as a percentage?",
     "A quarter is 25%, because 1 divided by 4 is 0.25."),
    ("What's 2 to the power of 10?",
     "It's 1,024, which is why a kilobyte was traditionally counted as 1,024 bytes."),
    ("How do I find the area of a circle?",
     "Multiply pi by the radius squared. A circle with a 3 cm radius has an area of about 28.3 "
     "square centimetres."),
    ("How many zeros are in a million?",
     "A million, 1,000,000, has 6 zeros. A billion has 9, and a trillion has 12."),
    ("What's the average of 4, 8 and 12?",
     "Add them to get 24, then divide by 3, so the average is 8."),
    ("Is zero an even number?",
     "Yes. Zero divides by 2 with nothing left over, so it's even."),
)

_MONEY: tuple[Exchange, ...] = (
    ("How do I work out a 20% tip?",
     "Move the decimal point one place left for 10%, then double it. On a $45 bill, 10% is "
     "$4.50, so 20% is $9."),
    ("What is compound interest?",
     "It's interest on your interest too. $1,000 at 5% a year grows to $1,050 after a year and "
     "$1,102.50 after 2 years."),
    ("What's inflation?",
     "Inflation is prices rising over time. At 3% inflation, something costing $100 today costs "
     "about $103 a year from now."),
    ("What's a simple budgeting rule?",
     "The 50-30-20 rule puts 50% of take-home pay toward needs, 30% toward wants and 20% toward "
     "savings or debt."),
    ("What's the difference between a debit card and a credit card?",
     "A debit card spends money straight from your bank account, while a credit card borrows it, "
     "so you pay the bill later."),
    ("How many pence are in a pound?",
     "A pound is 100 pence, so £2.50 is 250 pence. Before 1971 a pound was 240 pence."),
    ("What does APR mean?",
     "APR is the annual percentage rate, the yearly cost of borrowing. Carrying a $500 balance "
     "at 20% APR costs about $100 a year."),
    ("How many cents are in a dollar?",
     "There are 100 cents in a dollar, so a quarter is 25 cents, a dime 10 cents and a nickel 5 "
     "cents."),
    ("What's a stock?",
     "A stock is a small share of ownership in a company. If the company does well, the share "
     "may rise in value or pay dividends."),
    ("What's an emergency fund?",
     "It's money set aside for surprises like a car repair. A common goal is 3 to 6 months of "
     "living costs."),
    ("Is it cheaper to buy in bulk?",
     "Often, but compare the unit price: a 1 kg bag for $6 is $0.60 per 100 g, and it only saves "
     "money if you use it all."),
)

_TIME: tuple[Exchange, ...] = (
    ("How many seconds are in a day?",
     "There are 86,400 seconds in a day: 24 hours of 60 minutes, each 60 seconds long."),
    ("Why do we have leap years?",
     "A year is about 365.25 days long, so we add February 29 every 4 years to keep the calendar "
     "in step with the seasons."),
    ("What time zone is London in?",
     "London uses Greenwich Mean Time in winter and British Summer Time, which is GMT + 1 hour, "
     "from late March to late October."),
    ("How many weeks are in a year?",
     "A year has 52 weeks plus 1 day, or 2 days in a leap year."),
    ("When does daylight saving time start in the U.S.?",
     "In most of the U.S., clocks go forward 1 hour at 2:00 a.m. on the second Sunday in March "
     "and back on the first Sunday in November."),
    ("When is the shortest day of the year?",
     "In the Northern Hemisphere it's the winter solstice, around December 21. South of the "
     "equator that's the longest day."),
    ("How long is a decade, a century and a millennium?",
     "A decade is 10 years, a century is 100 years, and a millennium is 1,000 years."),
    ("How long does Earth take to orbit the Sun?",
     "About 365.25 days, which is 1 year. One spin on its axis takes about 24 hours, giving us "
     "day and night."),
    ("How many days are in each month?",
     "April, June, September & November have 30 days, February has 28, or 29 in a leap year, "
     "and the rest have 31."),
    ("How many minutes are in a week?",
     "There are 10,080 minutes in a week: 7 days of 1,440 minutes each."),
)

_SPACE: tuple[Exchange, ...] = (
    ("How many planets are in our solar system?",
     "There are 8: Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus & Neptune. Pluto became "
     "a dwarf planet in 2006."),
    ("What's the biggest planet?",
     "Jupiter is the biggest. It's about 11 times wider than Earth and more massive than all the "
     "other planets put together."),
    ("How far away is the Moon?",
     "The Moon is about 384,400 km away on average. Light crosses that distance in about 1.3 "
     "seconds."),
    ("What's the hottest planet?",
     "Venus is the hottest, about 465°C at the surface, because its thick atmosphere of carbon "
     "dioxide traps heat."),
    ("What is a light-year?",
     "A light-year is how far light travels in a year, about 9.46 trillion km. It measures "
     "distance, not time."),
    ("What's the closest star to Earth?",
     "The Sun is the closest. The next is Proxima Centauri, about 4.24 light-years away."),
    ("How old is the universe?",
     "The universe is about 13.8 billion years old, based on measurements of the oldest light "
     "we can see."),
    ("What's a black hole?",
     "A black hole is a place where gravity is so strong that nothing, not even light, can "
     "escape once it crosses the edge."),
    ("When was the first satellite launched?",
     "The Soviet Union launched Sputnik 1, the first artificial satellite, on October 4, 1957."),
    ("How long is a day on Mars?",
     "A day on Mars, called a sol, lasts about 24 hours and 40 minutes, just a little longer "
     "than ours."),
    ("Who was the first person in space?",
     "Yuri Gagarin became the first person in space on April 12, 1961, orbiting Earth once in "
     "108 minutes."),
    ("How old is the Earth?",
     "Earth is about 4.5 billion years old, based on dating meteorites & the oldest rocks."),
    ("Why does the Moon change shape?",
     "The Moon doesn't change. We see different amounts of its sunlit half as it orbits us, "
     "about once every 29.5 days."),
)

_SPORTS: tuple[Exchange, ...] = (
    ("How long is a marathon?",
     "A marathon is 42.195 km, or about 26.2 miles. That distance became the standard in 1921."),
    ("How many players are on a soccer team?",
     "Each team has 11 players on the field, including 1 goalkeeper."),
    ("How often are the Olympics held?",
     "The Summer and Winter Games are each held every 4 years, 2 years apart from each other."),
    ("How many holes are on a golf course?",
     "A standard course has 18 holes, and par for a full round is usually 70 to 72."),
    ("How long is a basketball game?",
     "An NBA game has 4 quarters of 12 minutes, 48 minutes in total. International games use "
     "10-minute quarters."),
    ("What's a hat trick?",
     "A hat trick is 3 goals by one player in a single game, e.g. in soccer or hockey. The term "
     "began in cricket."),
    ("How big is a tennis court?",
     "A tennis court is 23.77 m long, and 8.23 m wide for singles or 10.97 m for doubles."),
    ("How many points is a touchdown worth?",
     "A touchdown is worth 6 points, and the kick after it usually adds 1 more."),
    ("Which country has won the most World Cups?",
     "Brazil has won the men's World Cup 5 times: in 1958, 1962, 1970, 1994 & 2002."),
    ("How high is a basketball hoop?",
     "The rim is 10 ft above the floor, which is about 3.05 m."),
)

_MUSIC: tuple[Exchange, ...] = (
    ("How many keys does a piano have?",
     "A standard piano has 88 keys: 52 white and 36 black."),
    ("How many strings does a guitar have?",
     "A standard guitar has 6 strings, tuned E, A, D, G, B and E from low to high. Most bass "
     "guitars have 4."),
    ("Who composed the Moonlight Sonata?",
     "Beethoven wrote it in 1801. Its real title is Piano Sonata No. 14, and a critic gave it the "
     "nickname after his death."),
    ("What does tempo mean in music?",
     "Tempo is the speed of a piece, counted in beats per minute. Around 120 beats a minute is a "
     "typical march or pop tempo."),
    ("How many musicians are in an orchestra?",
     "A full symphony orchestra usually has about 70 to 100 players, in strings, woodwinds, "
     "brass & percussion."),
    ("What's an octave?",
     "An octave is the step from one note to the next with the same name, e.g. from one C to the "
     "next. The higher one vibrates twice as fast."),
    ("When was Mozart born?",
     "Wolfgang Amadeus Mozart was born on January 27, 1756, in Salzburg, and died in 1791, aged "
     "just 35."),
    ("What pitch do orchestras tune to?",
     "Most tune to the A above middle C at 440 Hz, which the oboe usually plays for everyone."),
    ("What's the difference between a violin and a viola?",
     "A viola is slightly bigger and tuned a fifth lower, so it sounds deeper and warmer than a "
     "violin."),
)

_TECHNOLOGY: tuple[Exchange, ...] = (
    ("What is Wi-Fi?",
     "Wi-Fi lets devices join a network over radio waves instead of cables, so your laptop or "
     "phone can reach the internet through a router."),
    ("What's the difference between RAM and storage?",
     "RAM is fast, short-term memory for what the computer is doing right now; storage, e.g. an "
     "SSD, keeps files when the power is off."),
    ("What is a CPU?",
     "The CPU, or central processing unit, is the chip that carries out a computer's "
     "instructions. It's often called the computer's brain."),
    ("How many bytes are in a kilobyte?",
     "In the decimal system it's 1,000 bytes, but many computers count 1,024, which is "
     "officially a kibibyte."),
    ("What is the cloud?",
     "The cloud means using computers in someone else's data centre over the internet, e.g. "
     "keeping photos online instead of on your phone."),
    ("What does URL stand for?",
     "URL stands for Uniform Resource Locator: the web address you type into a browser."),
    ("What is Bluetooth?",
     "Bluetooth is a short-range wireless link, typically up to about 10 m, for headphones, "
     "keyboards & other gadgets."),
    ("What is a password manager?",
     "It stores your passwords in an encrypted vault, so you can use a long, unique password "
     "for every site and remember just one."),
    ("What is artificial intelligence?",
     "AI is software that does tasks we link with human thinking, e.g. recognising speech, "
     "translating text or spotting patterns."),
    ("How does GPS work?",
     "Your receiver times signals from several satellites. With at least 4 of them it can work "
     "out its position to within a few meters."),
    ("Who invented the telephone?",
     "Alexander Graham Bell received the first U.S. patent for the telephone on March 7, 1876."),
    ("How much power does a phone charger use?",
     "Very little. A 20 W charger running for 2 hours uses 0.04 kWh, a fraction of a cent at "
     "most electricity prices."),
    ("What does two-factor authentication do?",
     "It asks for a second proof besides your password, e.g. a code on your phone, so a stolen "
     "password alone can't unlock your account."),
)

# ---------------------------------------------------------------------------------------------
# Fact tables turned into exchanges with a few phrasings; the phrasing rotates with the row.
# ---------------------------------------------------------------------------------------------

# (country, capital, region, the city people often guess instead, or "").
_CAPITALS: tuple[tuple[str, str, str, str], ...] = (
    ("France", "Paris", "Western Europe", ""),
    ("Germany", "Berlin", "Central Europe", ""),
    ("Italy", "Rome", "Southern Europe", ""),
    ("Spain", "Madrid", "Southern Europe", ""),
    ("Portugal", "Lisbon", "Southern Europe", ""),
    ("Greece", "Athens", "Southern Europe", ""),
    ("Norway", "Oslo", "Northern Europe", ""),
    ("Sweden", "Stockholm", "Northern Europe", ""),
    ("Finland", "Helsinki", "Northern Europe", ""),
    ("Poland", "Warsaw", "Central Europe", "Krakow"),
    ("Ireland", "Dublin", "Northern Europe", ""),
    ("Austria", "Vienna", "Central Europe", ""),
    ("Hungary", "Budapest", "Central Europe", ""),
    ("Denmark", "Copenhagen", "Northern Europe", ""),
    ("Japan", "Tokyo", "East Asia", "Kyoto"),
    ("China", "Beijing", "East Asia", "Shanghai"),
    ("India", "New Delhi", "South Asia", "Mumbai"),
    ("South Korea", "Seoul", "East Asia", ""),
    ("Thailand", "Bangkok", "Southeast Asia", ""),
    ("Vietnam", "Hanoi", "Southeast Asia", "Ho Chi Minh City"),
    ("Pakistan", "Islamabad", "South Asia", "Karachi"),
    ("Canada", "Ottawa", "North America", "Toronto"),
    ("Mexico", "Mexico City", "North America", ""),
    ("Cuba", "Havana", "the Caribbean", ""),
    ("Brazil", "Brasilia", "South America", "Rio de Janeiro"),
    ("Argentina", "Buenos Aires", "South America", ""),
    ("Chile", "Santiago", "South America", ""),
    ("Peru", "Lima", "South America", ""),
    ("Egypt", "Cairo", "North Africa", ""),
    ("Kenya", "Nairobi", "East Africa", ""),
    ("Nigeria", "Abuja", "West Africa", "Lagos"),
    ("Ghana", "Accra", "West Africa", ""),
    ("Morocco", "Rabat", "North Africa", "Casablanca"),
    ("Australia", "Canberra", "Oceania", "Sydney"),
    ("New Zealand", "Wellington", "Oceania", "Auckland"),
    ("Iceland", "Reykjavik", "Northern Europe", ""),
)


def _capital_exchanges() -> Iterator[Exchange]:
    for row, (country, capital, region, usual_guess) in enumerate(_CAPITALS):
        not_the_guess = f", not {usual_guess}" if usual_guess else ""
        phrasings = (
            (f"What's the capital of {country}?",
             f"The capital of {country} is {capital}{not_the_guess}."),
            (f"Which city is the capital of {country}?",
             f"{capital} is the capital of {country}{not_the_guess}."),
            (f"Do you know the capital city of {country}?",
             f"Yes, it's {capital}{not_the_guess}. {country} is in {region}."),
            (f"I always forget, what's the capital of {country}?",
             f"It's {capital}{not_the_guess}, and {country} is in {region}."),
        )
        yield phrasings[row % len(phrasings)]


# (name, symbol, atomic number, the Latin name the symbol comes from, or "").
_ELEMENTS: tuple[tuple[str, str, int, str], ...] = (
    ("hydrogen", "H", 1, ""),
    ("helium", "He", 2, ""),
    ("carbon", "C", 6, ""),
    ("nitrogen", "N", 7, ""),
    ("oxygen", "O", 8, ""),
    ("neon", "Ne", 10, ""),
    ("sodium", "Na", 11, "natrium"),
    ("magnesium", "Mg", 12, ""),
    ("silicon", "Si", 14, ""),
    ("chlorine", "Cl", 17, ""),
    ("potassium", "K", 19, "kalium"),
    ("calcium", "Ca", 20, ""),
    ("iron", "Fe", 26, "ferrum"),
    ("copper", "Cu", 29, "cuprum"),
    ("zinc", "Zn", 30, ""),
    ("silver", "Ag", 47, "argentum"),
    ("tin", "Sn", 50, "stannum"),
    ("gold", "Au", 79, "aurum"),
    ("mercury", "Hg", 80, "hydrargyrum"),
    ("lead", "Pb", 82, "plumbum"),
    ("uranium", "U", 92, ""),
)


def _element_exchanges() -> Iterator[Exchange]:
    for row, (name, symbol, number, latin) in enumerate(_ELEMENTS):
        from_latin = f", from the Latin '{latin}'" if latin else ""
        phrasings = (
            (f"What's the chemical symbol for {name}?",
             f"The symbol for {name} is {symbol}{from_latin}, and its atomic number is {number}."),
            (f"What's the atomic number of {name}?",
             f"{name.capitalize()} has atomic number {number}, so each atom has {number} protons. "
             f"Its symbol is {symbol}{from_latin}."),
            (f"Which element is number {number} on the periodic table?",
             f"Element {number} is {name}, with the symbol {symbol}{from_latin}."),
        )
        yield phrasings[row % len(phrasings)]


# (animals, what a group of them is called, a remark or "").
_ANIMAL_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("lions", "a pride", "A pride is mostly related females, their cubs and a few males."),
    ("wolves", "a pack", "A pack is usually a family: a breeding pair and their young."),
    ("fish", "a school", "A looser group is called a shoal."),
    ("crows", "a murder", "The name goes back to the 1400s."),
    ("owls", "a parliament", "People often link the name to owls' reputation for wisdom."),
    ("whales", "a pod", "Dolphins travel in pods too."),
    ("geese", "a gaggle", "That's on the ground; in the air they're a skein."),
    ("flamingos", "a flamboyance", "Fitting, given their bright pink feathers."),
    ("kangaroos", "a mob", "Most mobs have around 10 kangaroos, but some are much bigger."),
    ("ravens", "an unkindness", "It's one of the odder collective nouns in English."),
    ("jellyfish", "a smack", "A huge gathering of them is also called a bloom."),
    ("ants", "a colony", "A single colony can hold millions of ants."),
)


def _animal_group_exchanges() -> Iterator[Exchange]:
    for row, (animals, group, remark) in enumerate(_ANIMAL_GROUPS):
        phrasings = (
            (f"What do you call a group of {animals}?",
             f"A group of {animals} is called {group}. {remark}"),
            (f"Is there a special name for a group of {animals}?",
             f"Yes, it's {group}. {remark}"),
        )
        yield phrasings[row % len(phrasings)]


# (word, what it means, an example sentence).
_WORDS: tuple[tuple[str, str, str], ...] = (
    ("ubiquitous", "found everywhere", "Phones are ubiquitous on trains these days."),
    ("ephemeral", "lasting only a very short time", "Fame online is often ephemeral."),
    ("serendipity", "finding something good by happy chance",
     "Meeting her old friend abroad was pure serendipity."),
    ("pragmatic", "dealing with things in a sensible, practical way",
     "She took a pragmatic approach to the budget."),
    ("meticulous", "very careful about every small detail",
     "He keeps meticulous notes of every experiment."),
    ("candid", "honest and direct", "Thanks for your candid feedback."),
    ("resilient", "able to recover quickly from difficulty",
     "Children are often more resilient than we expect."),
    ("ambiguous", "open to more than one meaning", "The ending of the film is ambiguous."),
    ("frugal", "careful not to waste money or food", "They live a frugal life in the country."),
    ("nostalgia", "a warm longing for the past",
     "Old songs fill me with nostalgia for school days."),
    ("procrastinate", "to keep putting off something you should do",
     "I tend to procrastinate when a task feels too big."),
    ("eloquent", "expressing ideas clearly and persuasively", "She gave an eloquent speech."),
    ("mundane", "ordinary and rather dull", "Even mundane chores go faster with music on."),
    ("verbose", "using more words than needed", "The first draft was far too verbose."),
    ("tenacious", "refusing to give up", "A tenacious reporter chased the story for years."),
    ("benevolent", "kind and wanting to help others", "The town had a benevolent mayor."),
)


def _word_exchanges() -> Iterator[Exchange]:
    for row, (word, meaning, example) in enumerate(_WORDS):
        phrasings = (
            (f"What does {word} mean?",
             f"'{word.capitalize()}' means {meaning}, as in: {example}"),
            (f"What's the meaning of the word {word}?",
             f"It means {meaning}. For example: {example}"),
        )
        yield phrasings[row % len(phrasings)]


# (the event as a noun phrase, its date, one more fact). Dates are written "Month D, YYYY".
_DATED_EVENTS: tuple[tuple[str, str, str], ...] = (
    ("the Battle of Hastings", "October 14, 1066",
     "William of Normandy's victory made him King of England."),
    ("the sealing of Magna Carta", "June 15, 1215", "King John agreed to it at Runnymede."),
    ("the fall of Constantinople", "May 29, 1453",
     "The Ottoman army took the city after a siege of about 53 days."),
    ("the Great Fire of London", "September 2, 1666",
     "It began in a bakery on Pudding Lane and burned for 4 days."),
    ("the Boston Tea Party", "December 16, 1773",
     "Protesters dumped 342 chests of tea into Boston Harbor."),
    ("the Battle of Waterloo", "June 18, 1815", "It ended Napoleon's rule for good."),
    ("the Gettysburg Address", "November 19, 1863",
     "Abraham Lincoln's speech lasted only about 2 minutes."),
    ("the opening of the first modern Olympics", "April 6, 1896",
     "The Games were held in Athens, Greece."),
    ("the opening of the Panama Canal", "August 15, 1914",
     "It saved ships a long trip around South America."),
    ("the signing of the Treaty of Versailles", "June 28, 1919",
     "It formally ended World War I between Germany and the Allies."),
    ("the attack on Pearl Harbor", "December 7, 1941",
     "It brought the U.S. into World War II."),
    ("the D-Day landings in Normandy", "June 6, 1944",
     "More than 150,000 Allied troops landed on the first day."),
    ("the founding of the United Nations", "October 24, 1945",
     "The date is celebrated each year as U.N. Day."),
    ("the first ascent of Mount Everest", "May 29, 1953",
     "Edmund Hillary & Tenzing Norgay reached the summit together."),
    ("the Chernobyl disaster", "April 26, 1986",
     "A reactor exploded at the nuclear plant in what is now Ukraine."),
    ("the launch of the Hubble Space Telescope", "April 24, 1990",
     "It circles Earth about every 95 minutes."),
    ("the introduction of euro notes and coins", "January 1, 2002",
     "12 countries started using them on the same day."),
    ("the release of the first iPhone", "June 29, 2007", "The cheapest model cost $499."),
)


def _dated_event_exchanges() -> Iterator[Exchange]:
    for row, (event, date, fact) in enumerate(_DATED_EVENTS):
        month_and_day, year = date.split(", ")
        phrasings = (
            (f"When was {event}?",
             f"{event[0].upper()}{event[1:]} was on {date}. {fact}"),
            (f"What year was {event}?",
             f"It was in {year}, on {month_and_day} to be exact. {fact}"),
            (f"Do you know the date of {event}?",
             f"Yes, it was {date}. {fact}"),
        )
        yield phrasings[row % len(phrasings)]


# ---------------------------------------------------------------------------------------------
# Arithmetic and unit conversions: computed, so the answers are right by construction.
# ---------------------------------------------------------------------------------------------


def _number(value: Decimal, places: int = 2) -> str:
    """`value` rounded half up to `places`, with thousands separators and no trailing zeros."""
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == rounded.to_integral_value():
        return f"{int(rounded):,}"
    return f"{rounded.normalize():,f}"


def _dollars(value: Decimal) -> str:
    """$12, $22.50, $1,102.50: whole amounts without cents, others with both digits."""
    cents = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if cents == cents.to_integral_value():
        return f"${int(cents):,}"
    return f"${cents:,.2f}"


# (first, second) for each operation; the sums are all small enough to say in a breath.
_PRODUCTS = ((7, 8), (12, 12), (9, 6), (25, 4), (13, 7), (15, 15), (8, 9))
_SUMS = ((345, 278), (1250, 750), (99, 101), (4800, 3200))
_DIFFERENCES = ((1000, 365), (92, 47), (500, 123))
_QUOTIENTS = ((144, 12), (1000, 8), (96, 4), (81, 9))
# (percent, amount in dollars)
_PERCENT_OF = ((15, "80"), (20, "45"), (10, "250"), (25, "60"), (18, "50"), (5, "1200"))
# (price in dollars, percent off)
_DISCOUNTS = (("40", 25), ("120", 15), ("60", 30), ("250", 10))
# (bill in dollars, people sharing it)
_SPLITS = (("90", 4), ("75", 3), ("130", 4))


def _arithmetic_exchanges() -> Iterator[Exchange]:
    for row, (first, second) in enumerate(_PRODUCTS):
        product = first * second
        yield ((f"What's {first} times {second}?", f"{first} times {second} is {product}.")
               if row % 2 == 0 else
               (f"Quick one: what's {first} multiplied by {second}?",
                f"{first} × {second} is {product}."))
    for first, second in _SUMS:
        yield (f"How much is {first:,} plus {second:,}?",
               f"{first:,} plus {second:,} makes {first + second:,}.")
    for first, second in _DIFFERENCES:
        yield (f"What's {first:,} minus {second}?", f"{first:,} minus {second} leaves "
               f"{first - second:,}.")
    for first, second in _QUOTIENTS:
        yield (f"What's {first:,} divided by {second}?",
               f"{first:,} divided by {second} is {first // second}, since {second} times "
               f"{first // second} is {first:,}.")
    for percent, amount in _PERCENT_OF:
        share = Decimal(percent) * Decimal(amount) / 100
        yield (f"How much is {percent}% of {_dollars(Decimal(amount))}?",
               f"{percent}% of {_dollars(Decimal(amount))} comes to {_dollars(share)}, because "
               f"{percent}% is the same as multiplying by {_number(Decimal(percent) / 100)}.")
    for price, percent in _DISCOUNTS:
        saving = Decimal(price) * percent / 100
        yield (f"Something costs {_dollars(Decimal(price))} and it's {percent}% off. "
               f"What do I pay?",
               f"You'd pay {_dollars(Decimal(price) - saving)}. The discount takes "
               f"{_dollars(saving)} off, which is {percent}% of {_dollars(Decimal(price))}.")
    for bill, people in _SPLITS:
        each = Decimal(bill) / people
        yield (f"If {people} of us split a {_dollars(Decimal(bill))} bill, what does each "
               f"person pay?",
               f"Each of you pays {_dollars(each)}.")


# name -> (unit written after the amount, unit as asked for, the factor or function, whether
# the factor is exact, how to do it in your head). Degrees sit on the number: "20°C".
_CONVERTERS: dict[str, tuple[str, str, Callable[[Decimal], Decimal], bool, str]] = {
    "km_to_miles": (" km", "miles", lambda km: km * Decimal("0.621371"), False,
                    "multiply by about 0.62"),
    "miles_to_km": (" miles", "kilometres", lambda miles: miles * Decimal("1.609344"), True,
                    "multiply by about 1.6"),
    "c_to_f": ("°C", "Fahrenheit", lambda c: c * Decimal("1.8") + 32, True,
               "multiply by 1.8, then add 32"),
    "f_to_c": ("°F", "Celsius", lambda f: (f - 32) / Decimal("1.8"), True,
               "subtract 32, then divide by 1.8"),
    "kg_to_lb": (" kg", "pounds", lambda kg: kg * Decimal("2.20462"), False,
                 "multiply by about 2.2"),
    "lb_to_kg": (" lb", "kilograms", lambda lb: lb * Decimal("0.45359237"), True,
                 "multiply by about 0.45"),
    "inches_to_cm": (" inches", "centimetres", lambda inches: inches * Decimal("2.54"), True,
                     "multiply by 2.54"),
    "ft_to_m": (" ft", "meters", lambda ft: ft * Decimal("0.3048"), True,
                "multiply by 0.3048"),
    "m_to_ft": (" m", "feet", lambda m: m / Decimal("0.3048"), True,
                "multiply by about 3.28"),
    "l_to_gallons": (" L", "US gallons", lambda litres: litres / Decimal("3.785411784"), True,
                     "divide by about 3.79"),
    "kmh_to_mph": (" km/h", "miles per hour", lambda kmh: kmh * Decimal("0.621371"), False,
                   "multiply by about 0.62"),
}
# The unit each converter gives, as written after the result.
_RESULT_UNITS = {
    "km_to_miles": " miles", "miles_to_km": " km", "c_to_f": "°F", "f_to_c": "°C",
    "kg_to_lb": " lb", "lb_to_kg": " kg", "inches_to_cm": " cm", "ft_to_m": " m",
    "m_to_ft": " ft", "l_to_gallons": " US gallons", "kmh_to_mph": " mph",
}
# (converter, amount, decimal places in the answer): everyday amounts people actually ask about.
_CONVERSIONS: tuple[tuple[str, str, int], ...] = (
    ("km_to_miles", "5", 1), ("km_to_miles", "10", 1), ("km_to_miles", "21.1", 1),
    ("km_to_miles", "100", 1),
    ("miles_to_km", "13.1", 1), ("miles_to_km", "3", 1), ("miles_to_km", "26.2", 1),
    ("miles_to_km", "50", 1),
    ("c_to_f", "0", 1), ("c_to_f", "20", 1), ("c_to_f", "25", 1), ("c_to_f", "37", 1),
    ("c_to_f", "-10", 1), ("c_to_f", "180", 1),
    ("f_to_c", "50", 1), ("f_to_c", "72", 1), ("f_to_c", "350", 0), ("f_to_c", "0", 1),
    ("kg_to_lb", "1", 1), ("kg_to_lb", "5", 1), ("kg_to_lb", "70", 0),
    ("lb_to_kg", "10", 1), ("lb_to_kg", "150", 1),
    ("inches_to_cm", "12", 2), ("ft_to_m", "6", 2), ("m_to_ft", "100", 0),
    ("l_to_gallons", "10", 1), ("kmh_to_mph", "100", 0),
)


def _conversion_exchanges() -> Iterator[Exchange]:
    for row, (name, amount_text, places) in enumerate(_CONVERSIONS):
        unit, asked_unit, convert, factor_exact, how = _CONVERTERS[name]
        amount = Decimal(amount_text)
        exact = convert(amount)
        result = _number(exact, places)
        about = "" if factor_exact and Decimal(result.replace(",", "")) == exact else "about "
        given, wanted = f"{_number(amount)}{unit}", f"{result}{_RESULT_UNITS[name]}"
        phrasings = (
            (f"How much is {given} in {asked_unit}?",
             f"{given} is {about}{wanted}. To convert, {how}."),
            (f"Can you convert {given} to {asked_unit}?",
             f"Sure, {given} comes to {about}{wanted}."),
            (f"What's {given} in {asked_unit}?",
             f"That's {about}{wanted}. A quick way is to {how}."),
        )
        yield phrasings[row % len(phrasings)]


# ---------------------------------------------------------------------------------------------
# Multi-turn conversations: each later question only makes sense after the earlier answers.
# ---------------------------------------------------------------------------------------------

_FOLLOW_UPS: tuple[tuple[Exchange, ...], ...] = (
    (("What's the capital of Japan?", "The capital of Japan is Tokyo."),
     ("How many people live there?",
      "Greater Tokyo has around 37 million people, one of the biggest city regions on Earth."),
     ("When's a good time to visit?",
      "Late March to early April for the cherry blossoms, or autumn, when it's mild, around 15 "
      "to 20°C.")),
    (("How do I convert Celsius to Fahrenheit?",
      "Multiply by 1.8, then add 32. So 20°C times 1.8 is 36, plus 32 gives 68°F."),
     ("And the other way around?",
      "Subtract 32, then divide by 1.8. For example, 86°F minus 32 is 54, and 54 divided by 1.8 "
      "is 30°C.")),
    (("Who was the first person on the Moon?",
      "Neil Armstrong, who stepped onto the Moon on July 20, 1969, during the Apollo 11 "
      "mission."),
     ("Who went with him?",
      "Buzz Aldrin walked on the Moon with him, while Michael Collins stayed in orbit in the "
      "command module."),
     ("How long were they on the surface?",
      "The lander stayed about 21.5 hours, and Armstrong & Aldrin spent about 2.5 hours walking "
      "outside.")),
    (("I'm making pancakes. How much flour do I need?",
      "For about 8 pancakes, use 1 cup of flour, roughly 125 g, with 1 egg, 1 cup of milk and 2 "
      "teaspoons of baking powder."),
     ("Can I use oat milk instead?",
      "Yes, oat milk works well. If the batter seems thick, add an extra tablespoon or two.")),
    (("What's the tallest mountain in Africa?",
      "Mount Kilimanjaro in Tanzania, at about 5,895 m, or 19,341 ft."),
     ("How long does it take to climb?",
      "Most routes take 5 to 9 days. Longer routes give your body more time to get used to the "
      "altitude.")),
    (("How much should I tip at a restaurant in the U.S.?",
      "At a sit-down restaurant, 15% to 20% of the bill before tax is typical."),
     ("So what's that on a $60 dinner?",
      "That would be a tip of $9 at 15%, or $12 if you leave 20%.")),
    (("Which planets have rings?",
      "Saturn's rings are the famous ones, but Jupiter, Uranus & Neptune have faint rings too."),
     ("What are Saturn's rings made of?",
      "Mostly chunks of water ice, from tiny grains to pieces as big as a house, with a little "
      "rock and dust."),
     ("How thick are they?",
      "The main rings are about 270,000 km across, but in most places only about 10 m thick.")),
    (("How much sleep does a toddler need?",
      "Toddlers aged 1 to 2 need about 11 to 14 hours in every 24, naps included."),
     ("And a 5-year-old?",
      "Children aged 3 to 5 need about 10 to 13 hours, again counting naps.")),
    (("How many ounces are in a pound?",
      "There are 16 ounces in a pound, which is about 454 g."),
     ("And how many grams is one ounce?",
      "One ounce is about 28.35 g, so 4 oz is roughly 113 g.")),
    (("Who painted the Mona Lisa?",
      "Leonardo da Vinci painted it, starting around 1503."),
     ("Where can I see it?",
      "It hangs in the Louvre in Paris, behind protective glass, and it's the museum's most "
      "visited work.")),
    (("What's the speed limit on U.K. motorways?",
      "For cars it's 70 mph, which is about 113 km/h."),
     ("What about in towns?",
      "In built-up areas it's usually 30 mph, about 48 km/h, and many streets now have 20 mph "
      "limits.")),
    (("How long should I cook dried pasta?",
      "Most dried pasta takes 8 to 12 minutes in boiling, salted water. Taste a piece a minute "
      "before the packet says."),
     ("How much salt should I add?",
      "A common Italian rule is about 10 g of salt per liter of water, just under 2 "
      "teaspoons.")),
    (("What's the largest country by area?",
      "Russia, at about 17.1 million square kilometres, roughly 1.7 times the size of Canada, "
      "which is second."),
     ("How many time zones does it have?",
      "Russia spans 11 time zones, from Kaliningrad in the west to Kamchatka in the east.")),
    (("How should I start running?",
      "Begin with run-walk intervals, e.g. 1 minute running and 2 minutes walking for 20 "
      "minutes, 3 times a week."),
     ("When could I try a 5 km race?",
      "Many beginners are ready after about 8 to 9 weeks of steady training.")),
    (("How big is a megabyte?",
      "A megabyte is about 1 million bytes. A typical phone photo takes about 2 to 5 MB."),
     ("And a gigabyte?",
      "A gigabyte is 1,000 MB, enough for a few hundred photos or about an hour of "
      "standard-definition video.")),
    (("Who wrote Romeo and Juliet?",
      "William Shakespeare wrote it, probably around 1595."),
     ("When was he born?",
      "His exact birth date is unknown, but he was baptised on April 26, 1564, in "
      "Stratford-upon-Avon."),
     ("How many plays did he write?",
      "About 37 to 39 plays are credited to him, depending on how shared works are counted.")),
    (("How far away is Mars?",
      "It varies a lot: from about 55 million km at its closest to about 400 million km at its "
      "farthest."),
     ("How long would it take to get there?",
      "With today's rockets, about 7 months. Launch windows come around every 26 months, when "
      "the planets line up.")),
    (("Why do leaves change colour in autumn?",
      "As days get shorter, trees stop making green chlorophyll, revealing yellow and orange "
      "pigments that were there all along."),
     ("Then why do some turn red?",
      "Red comes from pigments some trees make in autumn, especially after sunny days & cool "
      "nights.")),
    (("What's a healthy breakfast?",
      "Something with protein and fibre, e.g. oatmeal with fruit & nuts, or eggs on whole-grain "
      "toast."),
     ("Is coffee on an empty stomach bad?",
      "For most people it's fine, though it gives some people heartburn or jitters. If it "
      "bothers you, have it with food.")),
    (("How many calories does walking burn?",
      "A 70 kg person burns roughly 250 to 300 calories in an hour of brisk walking, at about 5 "
      "to 6 km/h."),
     ("What about running?",
      "Running at about 10 km/h burns roughly 700 calories an hour for the same person.")),
    (("What is the Great Wall of China?",
      "It's a series of walls & forts built over many centuries to protect northern China. Most "
      "of what stands today is from the Ming dynasty."),
     ("How long is it?",
      "A 2012 Chinese survey put all its sections together at about 21,196 km."),
     ("Can you see it from space?",
      "Not with the naked eye from the Moon, and barely if at all from low orbit. It's long but "
      "very narrow.")),
    (("What temperature does water freeze at in Fahrenheit?",
      "Fresh water freezes at 32°F, which is 0°C."),
     ("And seawater?",
      "Seawater, at about 3.5% salt, freezes at around -2°C, or 28°F.")),
    (("How do vaccines work?",
      "A vaccine shows your immune system a harmless piece or version of a germ, so it learns to "
      "fight the real thing faster."),
     ("Who made the first one?",
      "Edward Jenner tested the first smallpox vaccine in 1796, using material from cowpox "
      "sores.")),
    (("How do I convert miles to kilometres?",
      "Multiply by about 1.609, so 10 miles is roughly 16.1 km."),
     ("Is there a quick way to do it in my head?",
      "Multiply by 8 and divide by 5: 10 miles times 8 is 80, and 80 divided by 5 gives 16 "
      "km.")),
    (("When's the best time to see the Northern Lights?",
      "From about September to March, on dark, clear nights, often between 10 p.m. and 2 "
      "a.m."),
     ("Where should I go?",
      "Far northern places give the best chances, e.g. northern Norway, Iceland, Finnish Lapland "
      "or Alaska.")),
    (("What's the tallest building in the world?",
      "The Burj Khalifa in Dubai, at 828 m, has been the tallest since it opened in 2010."),
     ("How many floors does it have?",
      "It has 163 floors, and its observation deck on level 148 is about 555 m up.")),
    (("How many milliliters are in a cup?",
      "A U.S. cup is about 237 ml; the metric cup used in e.g. Australia is 250 ml."),
     ("And a tablespoon?",
      "A tablespoon is about 15 ml, and 3 teaspoons make 1 tablespoon.")),
    (("What causes thunder?",
      "Lightning heats the air around it to about 30,000°C in a split second, and the air "
      "expands so fast it makes a boom."),
     ("How can I tell how far away the storm is?",
      "Count the seconds between the flash and the thunder, then divide by 3 for kilometres or "
      "by 5 for miles.")),
    (("What's the heaviest dog breed?",
      "The English Mastiff is usually the heaviest, with big males often over 70 kg."),
     ("Are they good family pets?",
      "Often, yes: mastiffs tend to be calm and gentle. They need space & early training, and "
      "their food bills add up.")),
    (("How does a rainbow form?",
      "Sunlight enters raindrops, bends, reflects off the back of each drop and bends again on "
      "the way out, splitting into colours."),
     ("Why is it curved?",
      "Each colour leaves the drops at a fixed angle, about 42° for red, from the point opposite "
      "the Sun, so together they trace a circle."),
     ("Why is the sky darker outside the bow?",
      "Raindrops send light back toward you only inside that angle, so the sky inside the bow "
      "looks brighter than outside.")),
    (("What's the Eiffel Tower made of?",
      "It's made of wrought iron, about 7,300 tonnes of it, and it was finished in 1889."),
     ("How tall is it?",
      "It's about 330 m tall including its antennas, roughly the height of an 81-storey "
      "building.")),
)

# ---------------------------------------------------------------------------------------------
# Seeded drops: conversations the filter must reject, each kind named as the filter names it.
# ---------------------------------------------------------------------------------------------

# Asks for, or answers with, program code.
_CODE: tuple[Exchange, ...] = (
    ("Can you write a Python function that reverses a string?",
     "Sure, here's one:\n\n```python\ndef reverse_string(text):\n    return text[::-1]\n```\n\n"
     "For example, reverse_string(\"hello\") returns \"olleh\"."),
    ("How do I read a file line by line in Python?",
     "Open it in a with block and loop over it:\n\n```python\nwith open(\"notes.txt\") as f:\n"
     "    for line in f:\n        print(line.rstrip())\n```"),
    ("Write a JavaScript function that adds two numbers.",
     "```javascript\nfunction add(a, b) {\n  return a + b;\n}\n\nconsole.log(add(2, 3));\n```"),
    ("Give me a SQL query that counts users by country.",
     "```sql\nSELECT country, COUNT(*) AS users\nFROM users\nGROUP BY country\n"
     "ORDER BY users DESC;\n```"),
    ("What's a bash one-liner to find the biggest files in a folder?",
     "This lists the 10 largest:\n\n```bash\ndu -ah . | sort -rh | head -n 10\n```"),
    ("How do I sort a list of dictionaries by a key in Python?",
     "Use sorted with a key function:\n\n```python\npeople = [{\"name\": \"Ana\", \"age\": 31}, "
     "{\"name\": \"Ben\", \"age\": 25}]\nby_age = sorted(people, key=lambda p: p[\"age\"])\n```"),
    ("Write a function that checks whether a number is prime.",
     "```python\ndef is_prime(n):\n    if n < 2:\n        return False\n"
     "    for d in range(2, int(n ** 0.5) + 1):\n        if n % d == 0:\n"
     "            return False\n    return True\n```"),
)

# The answer is a markdown table.
_TABLE: tuple[Exchange, ...] = (
    ("Make a table of the planets and their distance from the Sun.",
     "| Planet | Average distance from the Sun |\n|---|---|\n| Mercury | 58 million km |\n"
     "| Venus | 108 million km |\n| Earth | 150 million km |\n| Mars | 228 million km |\n"
     "| Jupiter | 778 million km |\n| Saturn | 1.43 billion km |\n| Uranus | 2.87 billion km |\n"
     "| Neptune | 4.5 billion km |"),
    ("Compare the calories and fibre in an apple, a banana and an orange.",
     "| Fruit (medium) | Calories | Fibre |\n|---|---|---|\n| Apple | 95 | 4.4 g |\n"
     "| Banana | 105 | 3.1 g |\n| Orange | 62 | 3.1 g |"),
    ("Give me a table of the days of the week in Spanish and French.",
     "| English | Spanish | French |\n|---|---|---|\n| Monday | lunes | lundi |\n"
     "| Tuesday | martes | mardi |\n| Wednesday | miércoles | mercredi |\n"
     "| Thursday | jueves | jeudi |\n| Friday | viernes | vendredi |\n"
     "| Saturday | sábado | samedi |\n| Sunday | domingo | dimanche |"),
    ("Show the common metric prefixes as a table.",
     "| Prefix | Symbol | Factor |\n|---|---|---|\n| kilo | k | 1,000 |\n"
     "| mega | M | 1,000,000 |\n| giga | G | 1,000,000,000 |\n| milli | m | 0.001 |\n"
     "| micro | µ | 0.000001 |"),
    ("Can you lay out a simple weekly workout plan in a table?",
     "| Day | Workout |\n|---|---|\n| Monday | 30 min brisk walk |\n"
     "| Tuesday | Strength: squats, push-ups, rows |\n| Wednesday | Rest |\n"
     "| Thursday | 30 min cycling |\n| Friday | Strength: lunges, planks |\n"
     "| Saturday | Long walk or hike |\n| Sunday | Rest |"),
    ("Put the first 5 U.S. presidents and their terms in a table.",
     "| President | Term |\n|---|---|\n| George Washington | 1789-1797 |\n"
     "| John Adams | 1797-1801 |\n| Thomas Jefferson | 1801-1809 |\n"
     "| James Madison | 1809-1817 |\n| James Monroe | 1817-1825 |"),
    ("List the noble gases with their symbols and atomic numbers.",
     "| Element | Symbol | Atomic number |\n|---|---|---|\n| Helium | He | 2 |\n"
     "| Neon | Ne | 10 |\n| Argon | Ar | 18 |\n| Krypton | Kr | 36 |\n| Xenon | Xe | 54 |\n"
     "| Radon | Rn | 86 |"),
)

# Asks for an essay, story or article of several paragraphs; the answer runs past 150 words.
_LONG_FORM: tuple[Exchange, ...] = (
    ("Write a 1,000-word essay on the causes of World War I.",
     "World War I did not have a single cause. Historians usually point to a tangle of "
     "alliances, militarism, imperial rivalry and nationalism that had been building in Europe "
     "for decades before 1914.\n\n"
     "The alliance system divided the great powers into two camps. Germany, Austria-Hungary and "
     "Italy formed the Triple Alliance, while France, Russia and Britain drew together in the "
     "Triple Entente. A quarrel between two countries could quickly drag in all the others.\n\n"
     "At the same time, an arms race was under way. Britain and Germany competed to build "
     "battleships, and every major army drew up detailed plans for rapid mobilisation, which "
     "left leaders little time to step back once a crisis began.\n\n"
     "The spark came on June 28, 1914, when Archduke Franz Ferdinand was assassinated in "
     "Sarajevo. Austria-Hungary declared war on Serbia a month later, and within days the "
     "alliances had turned a regional conflict into a war that would last more than four "
     "years."),
    ("Write me a long bedtime story about a dragon who is afraid of the dark.",
     "Once upon a time, high in the Misty Mountains, there lived a young dragon named Ember. "
     "Ember could breathe fire, fly faster than the wind and roar loud enough to shake the "
     "pines, but every night, when the sun slipped behind the peaks, Ember hid under a pile of "
     "leaves and trembled.\n\n"
     "The other dragons did not understand. Dragons are supposed to love the night, they said, "
     "when the stars come out and the caves are cool and quiet. But to Ember the dark felt "
     "enormous, full of shapes and sounds that had no names.\n\n"
     "One evening a tiny firefly landed on Ember's nose. It blinked its little light and asked "
     "why such a big dragon looked so frightened. Ember admitted the truth, and the firefly "
     "laughed kindly. Even I carry a light, it said, and I am smaller than your toe.\n\n"
     "So Ember took a deep breath and let out the softest, smallest flame, just enough to glow "
     "like a lantern. The shadows turned into trees and rocks, and the sounds turned into owls "
     "and crickets. From that night on, Ember was never afraid again."),
    ("Write a blog article about the benefits of working from home.",
     "Working from home has gone from a rare perk to an everyday arrangement for millions of "
     "people, and it is easy to see why so many want to keep it.\n\n"
     "The most obvious benefit is time. Without a daily commute, many workers save an hour or "
     "more each day, time they can spend sleeping, exercising, cooking or simply being with "
     "their families. Less commuting also means lower costs for fuel, train tickets and "
     "lunches.\n\n"
     "Many people also find they can focus better at home. There are fewer interruptions, no "
     "noisy open-plan office, and more freedom to arrange the day around the hours when they "
     "think most clearly.\n\n"
     "Of course, remote work is not perfect. It can feel isolating, and the line between work "
     "and home can blur. The people who thrive tend to keep a regular routine, a separate "
     "workspace and a clear end to the working day, and they make an effort to stay in touch "
     "with colleagues."),
    ("Write a short story set on a space station, with a twist ending.",
     "Commander Lena Ortiz had spent 183 days aboard the Horizon station, and she knew every "
     "hum and rattle of its machinery. So when a new sound began, a faint tapping from "
     "somewhere behind the wall panels, she noticed it at once.\n\n"
     "At first she blamed the cooling pipes. The engineers on the ground agreed and told her "
     "not to worry. But the tapping grew steadier, three slow knocks, a pause, then three "
     "more, always near the airlock, always after the lights dimmed for the night cycle.\n\n"
     "On the 190th day she opened the panel. Inside, tucked among the cables, she found a "
     "small silver box she had never seen on any inventory. It was warm, and it was still "
     "tapping.\n\n"
     "She opened the lid with shaking hands. Inside lay a tiny speaker and a note in her own "
     "handwriting, dated two years in the future. It said only: Do not open the airlock "
     "tomorrow. Lena read it three times, then looked at the schedule. Tomorrow's task was a "
     "spacewalk."),
    ("Write an essay about how climate change affects the oceans.",
     "The oceans cover about 71% of the planet and have absorbed most of the extra heat trapped "
     "by greenhouse gases. That makes them one of the clearest places to see the effects of "
     "climate change.\n\n"
     "The first effect is warming. Warmer water expands, which, together with melting glaciers "
     "and ice sheets, pushes sea levels higher and threatens coastal cities and low-lying "
     "islands. Warmer seas also fuel stronger storms.\n\n"
     "The second effect is acidification. The oceans absorb a large share of the carbon dioxide "
     "we release, and that carbon dioxide forms a weak acid in seawater. More acidic water makes "
     "it harder for corals, oysters and many tiny plankton to build their shells and "
     "skeletons.\n\n"
     "Finally, ecosystems are shifting. Marine heatwaves have bleached large parts of coral "
     "reefs, and many fish are moving toward the poles in search of cooler water, with knock-on "
     "effects for the people who depend on them for food and work."),
    ("Write a detailed article on the history of the bicycle.",
     "The bicycle began in 1817, when the German inventor Karl Drais built a wooden running "
     "machine. Riders sat on it and pushed along the ground with their feet, since it had no "
     "pedals at all.\n\n"
     "In the 1860s, makers in France fixed pedals to the front wheel, creating the velocipede. "
     "Its iron-rimmed wheels gave such a rough ride on cobbled streets that people nicknamed it "
     "the boneshaker.\n\n"
     "To go faster, designers made the front wheel bigger and bigger, leading to the high wheel, "
     "or penny-farthing, of the 1870s. It was quick but dangerous, because riders sat high above "
     "the ground and could easily pitch forward over the handlebars.\n\n"
     "The modern shape arrived in 1885 with John Kemp Starley's Rover safety bicycle, which had "
     "two wheels of similar size and a chain drive to the rear wheel. Three years later John "
     "Boyd Dunlop developed a practical air-filled tyre, and cycling soon became a popular way "
     "to travel."),
)

# Asks for lyrics or a poem; the answer is in short verse lines (all written for this project).
_LYRICS: tuple[Exchange, ...] = (
    ("Write a short poem about the sea.",
     "The sea rolls in with silver light,\nit hums along the shore at night,\nit keeps the "
     "secrets ships have known,\nand sings them back in foam and stone."),
    ("Write song lyrics about a road trip with friends.",
     "Windows down and the radio loud,\nwe left the city and the crowd,\nfive hundred miles of "
     "open sky,\nwe sang along and waved goodbye.\n\nOh, the road goes on and on,\nwe'll be "
     "singing until dawn."),
    ("Can you write a limerick about a cat?",
     "A cat with a taste for the cream\ndevised a remarkable scheme:\nshe knocked down the "
     "jug,\nthen lay on the rug,\nand purred like a cat in a dream."),
    ("Write a love poem for my wife's birthday.",
     "Another year of you and me,\nof morning tea and evening walks,\nof laughter in the "
     "kitchen light\nand easy, late-night talks.\nI'd choose it all again, my dear,\nevery day "
     "of every year."),
    ("Write a chorus for a song about summer.",
     "Summer, summer, stay a while,\npaint the evenings gold,\nkeep the music on the breeze\nand "
     "never let it fold."),
    ("Compose a lullaby for my baby.",
     "Hush now, little one, close your eyes,\nthe moon is sailing through the skies,\nthe stars "
     "are keeping watch above,\nand you are wrapped in all our love."),
    ("Give me a rap verse about coffee.",
     "Wake up, mug up, steam on the rise,\nfirst sip hits and it opens my eyes,\ndouble shot "
     "flow and I'm ready to go,\nrunning all day on that dark roast glow."),
)

# Asks for an email or letter; the answer has a greeting and a sign-off.
_EMAIL: tuple[Exchange, ...] = (
    ("Write an email to my boss asking for Friday off.",
     "Subject: Day off on Friday\n\nDear Ms. Patel,\n\nI'd like to request a day of annual "
     "leave this Friday, March 14. My current tasks will be finished by Thursday, and Sam has "
     "agreed to cover any urgent requests.\n\nPlease let me know if that works.\n\nBest "
     "regards,\nAlex"),
    ("Write a letter to my landlord about a broken heater.",
     "Dear Mr. Jones,\n\nI'm writing to let you know that the heater in my flat at 12 Elm Road "
     "stopped working on Monday. With temperatures near 0°C at night, could you please arrange "
     "a repair as soon as possible?\n\nThank you for your help.\n\nSincerely,\nMaria Lopez"),
    ("Draft an email to a customer apologising for a late delivery.",
     "Subject: Your order is on its way\n\nDear Mr. Chen,\n\nI'm sorry that your order arrived "
     "later than promised. A delay at our warehouse held up several parcels this week. As an "
     "apology, we've refunded your $7.99 shipping fee.\n\nKind regards,\nThe Customer Care "
     "Team"),
    ("Write a thank-you letter to my daughter's teacher.",
     "Dear Mrs. Rivera,\n\nThank you so much for everything you've done for Emma this year. "
     "She comes home excited about reading, and her confidence has grown enormously.\n\nWith "
     "best wishes,\nDaniel & Sophie Martin"),
    ("Write a cover letter for a barista job.",
     "Dear Hiring Manager,\n\nI'm excited to apply for the barista position at Corner Beans. I "
     "have 2 years of experience making espresso drinks in a busy cafe, and I enjoy getting to "
     "know regular customers.\n\nI'd love the chance to meet you.\n\nYours sincerely,\nJordan "
     "Lee"),
    ("Email my team that the meeting is moving to 3 p.m.",
     "Subject: Meeting moved to 3 p.m.\n\nHi team,\n\nToday's project meeting is moving from "
     "11 a.m. to 3 p.m., same room. Please bring your updates on the launch plan.\n\nBest "
     "regards,\nPriya"),
    ("Write a complaint email to an airline about lost luggage.",
     "Subject: Lost bag on flight 214\n\nDear Customer Relations,\n\nMy suitcase did not arrive "
     "with me on flight 214 from Boston on June 3. I reported it at the airport, reference "
     "BOS-55812, but have heard nothing since. Please tell me where it is and when it will be "
     "delivered.\n\nSincerely,\nChris Walker"),
)

# An ordinary question answered in markdown: headings, bullet lists, bold.
_MARKDOWN: tuple[Exchange, ...] = (
    ("What are some tips for a job interview?",
     "## Before the interview\n"
     "- **Research the company**: read its website, recent news and the job description "
     "carefully.\n"
     "- **Prepare examples** from past work that show the skills the role asks for.\n"
     "## On the day\n"
     "- **Arrive early**, about 10 minutes before the start, so you have time to settle in.\n"
     "- **Ask questions** at the end about the team, the work and what success looks like."),
    ("How should I plan a trip to Italy?",
     "## Planning your trip\n"
     "- **Pick your season**: spring and autumn are mild and far less crowded than August.\n"
     "- **Choose two or three bases**, e.g. Rome, Florence and Venice, rather than moving every "
     "day.\n"
     "- **Book trains early** on the fast lines between the big cities to get cheaper fares.\n"
     "- **Reserve museum tickets** for places like the Uffizi and the Vatican well in advance."),
    ("What are the pros and cons of electric cars?",
     "## Pros\n"
     "- **Cheaper to run**: charging at home usually costs much less than filling a tank with "
     "petrol.\n"
     "- **Quiet and smooth**, with strong acceleration and no exhaust fumes from the car itself.\n"
     "## Cons\n"
     "- **Higher purchase price** than a similar petrol car, although the gap is shrinking each "
     "year.\n"
     "- **Charging takes planning** on long trips, especially where fast chargers are few and "
     "far between."),
    ("What should I bring when I go camping?",
     "## Camping essentials\n"
     "- **Shelter**: a tent you have practised pitching, plus pegs, a groundsheet and a mallet.\n"
     "- **Sleeping**: a sleeping bag rated for the coldest night you expect and a warm mat.\n"
     "- **Kitchen**: a small stove, fuel, a pot, a lighter and enough water for drinking and "
     "cooking.\n"
     "- **Safety**: a head torch with spare batteries, a first-aid kit and a charged phone."),
    ("How can I learn to cook?",
     "## Getting started\n"
     "- **Master a few basics** first, like eggs, rice, pasta and a simple tomato sauce.\n"
     "- **Follow recipes exactly** the first time, then change one thing at a time after that.\n"
     "- **Cook the same dish several times** in a week so the steps become second nature.\n"
     "- **Taste as you go** and adjust the salt, acid and heat before you serve anything."),
    ("What are the main features of Python?",
     "## Why people like Python\n"
     "- **Readable syntax**: indentation shows the structure, so programs look tidy and are easy "
     "to follow.\n"
     "- **A huge standard library** that covers files, dates, networking, testing and much more.\n"
     "- **Thousands of packages** for data science, web servers, automation and machine "
     "learning.\n"
     "- **Runs everywhere**, on Windows, macOS and Linux, without changing your code at all."),
    ("Can you summarise the French Revolution?",
     "## The French Revolution, 1789 to 1799\n"
     "- **Causes**: debt from foreign wars, bad harvests, high bread prices and anger at the "
     "privileges of the nobility.\n"
     "- **1789**: the storming of the Bastille on July 14 and the Declaration of the Rights of "
     "Man.\n"
     "- **1793 to 1794**: the Reign of Terror, when thousands were executed as enemies of the "
     "revolution.\n"
     "- **1799**: Napoleon Bonaparte seized power in a coup, ending the revolutionary decade."),
)

# An ordinary question, answered in over 120 words of plain prose: too long to say aloud.
_TOO_LONG: tuple[Exchange, ...] = (
    ("How does the internet work?",
     "The internet is a huge network of networks that all agree to speak the same languages, "
     "called protocols. When you open a website, your device first asks a domain name server to "
     "turn the site's name into a numeric address. Your request is then broken into small "
     "packets, each labelled with where it came from and where it is going. Routers owned by "
     "your internet provider and many other companies pass these packets along, hop by hop, "
     "choosing a good path at each step, often across undersea cables between continents. The "
     "server at the other end receives the packets, works out what you asked for and sends the "
     "page back in packets of its own. Your device puts them back in the right order, asks "
     "again for any that went missing, and finally your browser draws the page on the screen, "
     "usually in well under a second."),
    ("Why did the dinosaurs die out?",
     "Most scientists think the dinosaurs were wiped out about 66 million years ago, when an "
     "asteroid roughly 10 km wide slammed into what is now the Yucatan Peninsula in Mexico. The "
     "impact left the Chicxulub crater, more than 150 km across, and threw enormous amounts of "
     "dust, soot and sulphur high into the atmosphere. Sunlight was blocked for months or even "
     "years, temperatures dropped sharply, and plants stopped growing, so the food chains that "
     "large animals relied on collapsed. Huge volcanic eruptions in India, known as the Deccan "
     "Traps, were already changing the climate around the same time and may have made things "
     "worse. Not every dinosaur vanished, though: birds are the descendants of small feathered "
     "dinosaurs that survived, which is why biologists say dinosaurs are still with us today, "
     "singing in our gardens."),
    ("How do airplanes stay in the air?",
     "An airplane stays up because its wings are shaped and angled to push air downward as the "
     "plane moves forward, and by Newton's third law the air pushes the wings upward in return. "
     "This upward force is called lift. The curved shape of the wing also makes air flow faster "
     "over the top than underneath, which lowers the pressure above the wing and adds to the "
     "lift. For lift to match the weight of the plane, the wings need a steady flow of air, and "
     "that comes from the engines, which produce thrust to keep the plane moving fast enough. "
     "Drag from the air resists that motion, so the engines must keep working throughout the "
     "flight. Pilots control the amount of lift by changing the speed and the angle of the "
     "wings, and by extending flaps during takeoff and landing, when the plane flies slowly and "
     "needs extra lift."),
    ("What's the difference between weather and climate?",
     "Weather is what the atmosphere is doing at a particular place and time: whether it is "
     "sunny or raining today, how warm it is this afternoon, or how strong the wind will be "
     "tomorrow morning. It can change from hour to hour and is hard to predict more than about "
     "a week or two ahead. Climate, on the other hand, is the long-term pattern of weather in a "
     "region, usually averaged over 30 years or more. It tells you what to expect rather than "
     "what you will get on any particular day. For example, a city might have a mild climate "
     "with wet winters, yet still see a freak snowstorm in spring. A simple way to remember the "
     "difference is that climate is what you expect, while weather is what you actually get, "
     "which is why one cold week says little about long-term climate change."),
    ("How does a refrigerator work?",
     "A refrigerator does not make cold; it moves heat from the inside of the cabinet to the "
     "kitchen. It does this with a special fluid called a refrigerant that circulates through a "
     "sealed loop of pipes. Inside the fridge, the refrigerant passes through coils called the "
     "evaporator, where it boils into a gas at a low temperature and soaks up heat from the food "
     "and air. A compressor then squeezes that gas, which makes it much hotter, and pushes it "
     "into the coils on the back or underneath the fridge. There the heat escapes into the room "
     "and the refrigerant condenses back into a liquid. Finally it passes through a narrow "
     "valve, where the pressure drops and it cools sharply, ready to flow back inside and pick "
     "up more heat. A thermostat switches the compressor on and off to hold the temperature "
     "steady."),
    ("Why do we dream?",
     "Nobody knows for certain why we dream, but scientists have several leading ideas. Most "
     "vivid dreams happen during rapid eye movement sleep, when the brain is nearly as active as "
     "when we are awake. One idea is that dreaming helps the brain sort and store memories, "
     "strengthening what matters from the day and letting go of the rest. Another is that "
     "dreams let us rehearse emotional or threatening situations in a safe setting, which might "
     "help us cope with them in real life. A third view says dreams are simply a side effect of "
     "the brain firing in fairly random patterns during sleep, with the mind weaving those "
     "signals into a story. These ideas are not mutually exclusive, and the truth may include "
     "parts of each. What is clear is that good sleep, dreams included, matters for memory, "
     "mood and learning."),
)

_SINGLE_EXCHANGE_TOPICS: tuple[tuple[Exchange, ...], ...] = (
    _GEOGRAPHY, _SCIENCE, _ANIMALS, _FOOD, _EVERYDAY, _HEALTH, _LANGUAGE, _HISTORY, _MATH,
    _MONEY, _TIME, _SPACE, _SPORTS, _MUSIC, _TECHNOLOGY,
)
_GENERATED: tuple[Callable[[], Iterator[Exchange]], ...] = (
    _capital_exchanges, _element_exchanges, _animal_group_exchanges, _word_exchanges,
    _dated_event_exchanges, _arithmetic_exchanges, _conversion_exchanges,
)
_DROPS: dict[str, tuple[Exchange, ...]] = {
    "code": _CODE, "table": _TABLE, "long_form": _LONG_FORM, "lyrics": _LYRICS,
    "email": _EMAIL, "markdown": _MARKDOWN, "too_long": _TOO_LONG,
}


def _all_conversations() -> Iterator[tuple[tuple[Exchange, ...], str]]:
    """(exchanges, expect) in a fixed order: the order is what keeps the ids stable."""
    for topic in _SINGLE_EXCHANGE_TOPICS:
        for exchange in topic:
            yield (exchange,), KEEP
    for generate in _GENERATED:
        for exchange in generate():
            yield (exchange,), KEEP
    for exchanges in _FOLLOW_UPS:
        yield exchanges, KEEP
    for reason in DROP_REASONS:
        for exchange in _DROPS[reason]:
            yield (exchange,), reason


def sample_conversations() -> list[dict]:
    """Every built-in conversation: {"id": str, "messages": [{"role": "user"|"assistant",
    "content": str}, ...], "expect": str}.

    A fresh list of fresh dicts on every call, always the same, so callers may change theirs.
    """
    conversations = []
    for number, (exchanges, expect) in enumerate(_all_conversations(), 1):
        messages = []
        for question, answer in exchanges:
            messages.append({"role": "user", "content": question})
            messages.append({"role": "assistant", "content": answer})
        conversations.append({"id": f"sample-{number:04d}", "messages": messages,
                              "expect": expect})
    return conversations
