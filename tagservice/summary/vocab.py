"""Code tables and the preset-deflate word list for the compact tag encoding (data only).

Written from general medical knowledge: common UK drug names, conditions,
allergens and phrases; facts, not copied text.

!! APPEND-ONLY. Every issued tag refers to these entries by position (the
!! code tables) or by byte offset (the deflate dictionary). Changing, removing
!! or reordering an existing entry silently changes the meaning of every tag
!! already printed. Code tables may only grow at the end (and a decoder older
!! than the addition cannot read tags that use the new codes). Any other change
!! needs a new compact format version (COMPACT_VERSION in compact.py) for the
!! tables, or a new dictionary id for the deflate word list, with the old ones
!! kept for reading old tags. tests/unit/summary/test_compact.py pins a hash of both.

Table order matters too: the first 24 entries of a table cost 1 byte in the
tag, the next 232 cost 2 bytes, so the most common entries come first.
"""

from __future__ import annotations

# ---- code tables, format version 1 ------------------------------------------------

ALLERGENS_V1 = (
    "Penicillin", "Amoxicillin", "Peanuts", "Latex", "Codeine", "Aspirin", "Ibuprofen",
    "NSAIDs", "Trimethoprim", "Erythromycin", "Clarithromycin", "Cephalosporins",
    "Sulfonamides", "Morphine", "Tree nuts", "Shellfish", "Eggs", "Milk", "Bee stings",
    "Wasp stings", "Contrast media", "Chlorhexidine", "Elastoplast", "Nickel",
    # 2-byte codes from here
    "Penicillins", "Flucloxacillin", "Co-amoxiclav", "Doxycycline", "Tetracycline",
    "Ciprofloxacin", "Levofloxacin", "Metronidazole", "Nitrofurantoin", "Cefalexin",
    "Vancomycin", "Gentamicin", "Teicoplanin", "Clindamycin", "Co-trimoxazole",
    "Sulfa drugs", "Diclofenac", "Naproxen", "Tramadol", "Opioids", "Oxycodone",
    "Local anaesthetic", "Lidocaine", "General anaesthetic", "Suxamethonium", "Atracurium",
    "Rocuronium", "Gelatin", "Iodine", "Iodinated contrast", "Adhesive tape", "Plasters",
    "Heparin", "ACE inhibitors", "Statins", "Carbamazepine", "Phenytoin", "Lamotrigine",
    "Allopurinol", "Sulfasalazine", "Metoclopramide", "Prochlorperazine", "Haloperidol",
    "Amiodarone", "Bisoprolol", "Ramipril", "Lisinopril", "Omeprazole", "Paracetamol",
    "Egg", "Cow's milk", "Soya", "Sesame", "Fish", "Wheat", "Gluten", "Kiwi", "Strawberries",
    "Mustard", "Celery", "Lupin", "Sulphites", "Peanut", "Hazelnuts", "Almonds",
    "Cashew nuts", "Walnuts", "Brazil nuts", "Pistachios", "Prawns", "Crab", "Lobster",
    "Mussels", "Bee venom", "Wasp venom", "Insect stings", "Pollen", "Grass pollen",
    "House dust mite", "Cats", "Dogs", "Horses", "Mould", "Sticking plaster", "Dressings",
    "Blood products", "Protamine", "Aminophylline", "Chlorphenamine",
)

REACTIONS_V1 = (
    "Anaphylaxis", "Rash", "Hives", "Swelling", "Angioedema", "Breathing difficulty",
    "Wheeze", "Itching", "Nausea", "Vomiting", "Diarrhoea", "Throat swelling",
    "Facial swelling", "Blisters", "Low blood pressure", "Collapse", "Dizziness", "Headache",
    "Confusion", "Shortness of breath", "Stomach upset", "Abdominal pain", "Intolerance",
    "Unknown",
    # 2-byte codes from here
    "Urticaria", "Lip swelling", "Tongue swelling", "Itchy rash", "Skin rash", "Red skin",
    "Flushing", "Stevens-Johnson syndrome", "Toxic epidermal necrolysis", "Chest tightness",
    "Palpitations", "Hallucinations", "Drowsiness", "Fainting", "Fever", "Joint pain",
    "Muscle pain", "Kidney damage", "Liver damage", "Bleeding", "Low sodium", "High potassium",
    "Cough", "Constipation", "Sickness", "Upset stomach", "Mouth ulcers", "Sore mouth",
    "Eye swelling", "Wheezing", "Difficulty breathing", "Asthma attack", "Bronchospasm",
    "Loss of consciousness", "Cardiac arrest", "Seizure", "Severe rash", "Mild rash",
    "Contact dermatitis", "Eczema", "Blistering", "Peeling skin", "Itchy eyes",
    "Runny nose", "Sneezing", "Not known",
)

DRUGS_V1 = (
    "Atorvastatin", "Amlodipine", "Omeprazole", "Levothyroxine", "Ramipril", "Lansoprazole",
    "Simvastatin", "Bisoprolol", "Metformin", "Aspirin", "Colecalciferol", "Paracetamol",
    "Apixaban", "Warfarin", "Salbutamol inhaler", "Furosemide", "Sertraline", "Amitriptyline",
    "Citalopram", "Rivaroxaban", "Edoxaban", "Prednisolone", "Gliclazide", "Insulin glargine",
    # 2-byte codes from here
    "Clopidogrel", "Dabigatran", "Ticagrelor", "Prasugrel", "Sitagliptin", "Linagliptin",
    "Alogliptin", "Empagliflozin", "Dapagliflozin", "Canagliflozin", "Pioglitazone",
    "Insulin detemir", "Insulin degludec", "Insulin aspart", "Insulin lispro",
    "Insulin isophane", "Lantus", "Levemir", "Tresiba", "Toujeo", "Abasaglar", "Humalog",
    "Humulin I", "Humulin M3", "NovoRapid", "NovoMix 30", "Fiasp", "Liraglutide",
    "Semaglutide", "Dulaglutide", "Tirzepatide", "Exenatide", "Rosuvastatin", "Pravastatin",
    "Ezetimibe", "Lisinopril", "Perindopril", "Enalapril", "Candesartan", "Losartan",
    "Irbesartan", "Valsartan", "Sacubitril/valsartan", "Felodipine", "Nifedipine",
    "Lercanidipine", "Diltiazem", "Verapamil", "Atenolol", "Metoprolol", "Propranolol",
    "Carvedilol", "Nebivolol", "Sotalol", "Digoxin", "Amiodarone", "Flecainide",
    "Dronedarone", "Bumetanide", "Bendroflumethiazide", "Indapamide", "Spironolactone",
    "Eplerenone", "Ivabradine", "Isosorbide mononitrate", "GTN spray", "Nicorandil",
    "Ranolazine", "Doxazosin", "Tamsulosin", "Finasteride", "Carbimazole", "Hydrocortisone",
    "Dexamethasone", "Fludrocortisone", "Salbutamol", "Ipratropium", "Tiotropium",
    "Beclometasone", "Budesonide", "Fluticasone", "Seretide", "Symbicort", "Fostair",
    "Trelegy", "Montelukast", "Theophylline", "Pantoprazole", "Esomeprazole", "Famotidine",
    "Gaviscon", "Lactulose", "Senna", "Macrogol", "Laxido", "Movicol", "Docusate",
    "Loperamide", "Mebeverine", "Co-codamol", "Codeine", "Tramadol", "Morphine", "Oramorph",
    "Oxycodone", "Buprenorphine", "Fentanyl patch", "Methadone", "Naproxen", "Ibuprofen",
    "Diclofenac", "Gabapentin", "Pregabalin", "Nortriptyline", "Duloxetine", "Escitalopram",
    "Fluoxetine", "Paroxetine", "Mirtazapine", "Venlafaxine", "Trazodone", "Lithium",
    "Quetiapine", "Olanzapine", "Risperidone", "Aripiprazole", "Haloperidol", "Clozapine",
    "Diazepam", "Lorazepam", "Clonazepam", "Zopiclone", "Zolpidem", "Melatonin",
    "Donepezil", "Memantine", "Rivastigmine", "Galantamine", "Levodopa", "Co-careldopa",
    "Co-beneldopa", "Sinemet", "Madopar", "Ropinirole", "Pramipexole", "Rasagiline",
    "Sodium valproate", "Levetiracetam", "Lamotrigine", "Carbamazepine", "Phenytoin",
    "Topiramate", "Lacosamide", "Zonisamide", "Clobazam", "Phenobarbital",
    "Buccal midazolam", "Methotrexate", "Hydroxychloroquine", "Sulfasalazine",
    "Azathioprine", "Mycophenolate", "Tacrolimus", "Ciclosporin", "Adalimumab",
    "Etanercept", "Infliximab", "Allopurinol", "Colchicine", "Febuxostat",
    "Alendronic acid", "Adcal-D3", "Calcium and vitamin D", "Vitamin D", "Folic acid",
    "Ferrous sulfate", "Ferrous fumarate", "Vitamin B12", "Hydroxocobalamin", "Thiamine",
    "Potassium chloride", "Tamoxifen", "Letrozole", "Anastrozole", "Bicalutamide",
    "Goserelin", "Enoxaparin", "Dalteparin", "Tinzaparin", "Heparin", "EpiPen", "Jext",
    "Emerade", "Adrenaline auto-injector", "Cetirizine", "Loratadine", "Fexofenadine",
    "Chlorphenamine", "Nitrofurantoin", "Trimethoprim", "Amoxicillin", "Doxycycline",
    "Clarithromycin", "Co-amoxiclav", "Flucloxacillin", "Phenoxymethylpenicillin",
    "Oxygen", "Home oxygen", "Glucagon", "GlucoGel", "Oxybutynin", "Solifenacin",
    "Mirabegron", "Sildenafil", "HRT", "Estradiol", "Testosterone", "Desmopressin",
    "Alfacalcidol", "Sevelamer", "Cinacalcet", "Nicotine patch", "Varenicline",
    "Naltrexone", "Acamprosate", "Disulfiram", "Chlordiazepoxide", "Insulin",
)

DOSES_V1 = (
    "5 mg", "10 mg", "20 mg", "40 mg", "2.5 mg", "1 mg", "2 mg", "25 mg", "50 mg", "75 mg",
    "80 mg", "100 mg", "500 mg", "1 tablet", "2 tablets", "1 puff", "2 puffs", "1.25 mg",
    "15 mg", "30 mg", "200 mg", "250 mg", "400 mg", "1 g",
    # 2-byte codes from here
    "3.75 mg", "7.5 mg", "0.5 mg", "3 mg", "4 mg", "8 mg", "60 mg", "120 mg", "150 mg",
    "160 mg", "300 mg", "600 mg", "750 mg", "850 mg", "1000 mg", "2 g", "1 capsule",
    "2 capsules", "4 puffs", "10 units", "12 units", "14 units", "16 units", "18 units",
    "20 units", "22 units", "24 units", "26 units", "28 units", "30 units", "40 units",
    "25 micrograms", "50 micrograms", "75 micrograms", "100 micrograms", "125 micrograms",
    "150 micrograms", "200 micrograms", "400 micrograms", "5 ml", "10 ml", "15 ml", "20 ml",
    "1 patch", "1 drop", "1 sachet", "2 sachets", "1 spray", "2 sprays", "as directed",
    "see chart", "variable", "sliding scale", "2 litres/min", "1 litre/min", "4 litres/min",
)

FREQUENCIES_V1 = (
    "once daily", "twice daily", "three times daily", "four times daily", "at night",
    "in the morning", "as required", "once weekly", "every other day", "with meals",
    "once a day", "twice a day", "three times a day", "four times a day", "daily",
    "morning and night", "at bedtime", "when needed", "every 4 hours", "every 6 hours",
    "every 8 hours", "every 12 hours", "monthly", "continuous",
    # 2-byte codes from here
    "weekly", "twice weekly", "three times weekly", "every 2 weeks", "every 4 weeks",
    "every 28 days", "every 3 months", "every 6 months", "every 72 hours", "every 3 days",
    "before meals", "after meals", "before breakfast", "with breakfast", "with food",
    "in the evening", "at lunchtime", "morning", "night", "as directed", "when required",
    "PRN", "OD", "BD", "TDS", "QDS", "ON", "OM", "stat", "once only", "yearly",
    "during exercise", "before exercise", "for chest pain", "for seizures",
    "for breathlessness", "in an emergency", "via pump", "overnight", "24 hours a day",
)

CONDITIONS_V1 = (
    "Atrial fibrillation", "Type 2 diabetes", "Hypertension", "Asthma", "COPD",
    "Heart failure", "Type 1 diabetes", "Epilepsy", "Angina", "Previous heart attack",
    "Stroke", "Dementia", "Chronic kidney disease", "Hypothyroidism", "Parkinson's disease",
    "Depression", "Osteoarthritis", "Rheumatoid arthritis", "Cancer", "Deep vein thrombosis",
    "Pulmonary embolism", "Addison's disease", "Learning disability", "Autism",
    # 2-byte codes from here
    "Chronic kidney disease stage 1", "Chronic kidney disease stage 2",
    "Chronic kidney disease stage 3", "Chronic kidney disease stage 4",
    "Chronic kidney disease stage 5", "Kidney failure", "Dialysis", "Haemodialysis",
    "Peritoneal dialysis", "Kidney transplant", "Liver transplant", "Heart transplant",
    "Lung transplant", "Diabetes", "Type 2 diabetes mellitus", "Type 1 diabetes mellitus",
    "Gestational diabetes", "Pre-diabetes", "High blood pressure", "High cholesterol",
    "Hypercholesterolaemia", "Myocardial infarction", "Heart attack", "Coronary heart disease",
    "Ischaemic heart disease", "Coronary artery bypass graft", "Coronary stent",
    "Heart valve replacement", "Mechanical heart valve", "Aortic stenosis",
    "Mitral regurgitation", "Cardiomyopathy", "Heart block", "Long QT syndrome",
    "Wolff-Parkinson-White syndrome", "Peripheral arterial disease", "Aortic aneurysm",
    "Transient ischaemic attack", "TIA", "Previous stroke", "Alzheimer's disease",
    "Vascular dementia", "Multiple sclerosis", "Motor neurone disease", "Myasthenia gravis",
    "Huntington's disease", "Cerebral palsy", "Spina bifida", "Hydrocephalus",
    "VP shunt", "Brain injury", "Migraine", "Narcolepsy", "Hyperthyroidism",
    "Adrenal insufficiency", "Hypopituitarism", "Congenital adrenal hyperplasia",
    "Diabetes insipidus", "Cushing's syndrome", "Osteoporosis", "Gout", "Lupus",
    "Polymyalgia rheumatica", "Giant cell arteritis", "Ankylosing spondylitis",
    "Psoriasis", "Eczema", "Fibromyalgia", "Chronic pain", "Anxiety", "Bipolar disorder",
    "Schizophrenia", "Psychosis", "Eating disorder", "Anorexia nervosa",
    "Alcohol dependence", "Opioid dependence", "ADHD", "Down's syndrome",
    "Breast cancer", "Prostate cancer", "Lung cancer", "Bowel cancer", "Leukaemia",
    "Lymphoma", "Myeloma", "On chemotherapy", "Sickle cell disease", "Thalassaemia",
    "Haemophilia", "Von Willebrand disease", "Anaemia", "Immunosuppressed", "Asplenia",
    "No spleen", "Neutropenia", "HIV", "Hepatitis B", "Hepatitis C", "Liver cirrhosis",
    "Liver disease", "Crohn's disease", "Ulcerative colitis", "Coeliac disease",
    "Cystic fibrosis", "Bronchiectasis", "Pulmonary fibrosis", "Interstitial lung disease",
    "Sarcoidosis", "Obstructive sleep apnoea", "Sleep apnoea", "Home oxygen",
    "Tracheostomy", "Laryngectomy", "Stoma", "Colostomy", "Ileostomy", "Urinary catheter",
    "PEG feeding", "Difficult airway", "Malignant hyperthermia", "Porphyria",
    "Glaucoma", "Macular degeneration", "Blind", "Partially sighted", "Deaf",
    "Hard of hearing", "Pregnant", "Obesity", "Frailty", "Falls",
)

RELATIONSHIPS_V1 = (
    "husband", "wife", "partner", "son", "daughter", "mother", "father", "brother",
    "sister", "friend", "neighbour", "carer", "spouse", "parent", "guardian", "grandson",
    "granddaughter", "niece", "nephew", "next of kin", "civil partner", "aunt", "uncle",
    "cousin",
    # 2-byte codes from here
    "son-in-law", "daughter-in-law", "mother-in-law", "father-in-law", "brother-in-law",
    "sister-in-law", "stepson", "stepdaughter", "stepmother", "stepfather", "grandmother",
    "grandfather", "grandparent", "grandchild", "child", "sibling", "fiancé", "fiancée",
    "boyfriend", "girlfriend", "support worker", "social worker", "key worker",
    "care home", "care agency", "warden", "housemate", "flatmate", "lodger", "colleague",
    "employer", "landlord", "solicitor", "power of attorney", "advocate", "other",
    "mum", "dad", "foster carer", "foster parent", "godparent", "ex-husband", "ex-wife",
)

BASELINE_VALUES_V1 = (
    "Independent", "Walks unaided", "Walks with stick", "Walks with frame",
    "Wheelchair user", "Bedbound", "Housebound", "Uses hoist", "Alert and orientated",
    "Normal", "Mild confusion", "Confused at times", "Dementia", "Non-verbal",
    "Needs help with stairs", "Walks with two sticks", "Walks with crutches",
    "Mobility scooter", "Immobile", "Full capacity", "Lacks capacity", "Forgetful",
    "Normal for age", "Unknown",
    # 2-byte codes from here
    "Uses rollator", "Walks short distances", "Transfers with help",
    "Needs one person to help", "Needs two people to help", "Chair to bed only",
    "Independent with frame", "Confused", "Disorientated", "Severe dementia",
    "Moderate dementia", "Mild dementia", "Learning disability", "Speaks little English",
    "Communicates with gestures", "Uses sign language", "Uses communication aid",
)

LANGUAGES_V1 = (
    "en", "pl", "ur", "pa", "bn", "gu", "ar", "ro", "pt", "es", "fr", "it", "de", "lt",
    "so", "tr", "zh", "ta", "fa", "cy", "uk", "ru", "bg", "hi",
    # 2-byte codes from here
    "English", "Polish", "Urdu", "Punjabi", "Bengali", "Gujarati", "Arabic", "Romanian",
    "Portuguese", "Spanish", "French", "Italian", "German", "Lithuanian", "Somali",
    "Turkish", "Chinese", "Cantonese", "Mandarin", "Tamil", "Farsi", "Persian", "Welsh",
    "Ukrainian", "Russian", "Bulgarian", "Hindi", "Kurdish", "Pashto", "Tigrinya",
    "Albanian", "Greek", "Latvian", "Hungarian", "Czech", "Slovak", "Malayalam",
    "Nepali", "Vietnamese", "Tagalog", "Yoruba", "Igbo", "Swahili", "Amharic", "Dari",
    "Sylheti", "Gaelic", "Irish", "Japanese", "Korean", "Thai", "Hebrew", "Dutch",
    "British Sign Language", "BSL", "Makaton", "Sign language",
    "yue", "ku", "ps", "ti", "sq", "el", "lv", "hu", "cs", "sk", "ml", "ne", "vi", "tl",
    "yo", "ig", "sw", "am", "gd", "ga", "ja", "ko", "th", "he", "nl", "sgn", "bfi",
)

# Units for doses that are not in DOSES_V1 ("7 mg", "1.5 g"); the compact
# encoding reserves DOSE_UNIT_SLOTS positions, so at most that many entries.
DOSE_UNIT_SLOTS = 32
DOSE_UNITS_V1 = (
    "mg", "micrograms", "units", "ml", "g", "tablets", "tablet", "puffs", "puff",
    "capsules", "capsule", "drops", "drop", "sachets", "sachet", "mcg", "microgram",
    "mmol", "%", "mL", "IU", "nanograms", "litres/min", "L/min", "sprays", "spray",
    "patch", "unit",
)

# ---- preset deflate dictionary, dictionary id 1 ----------------------------------
# Deflate finds matches in the dictionary by distance from the end, so the words
# most likely to appear as literal text in a tag come LAST. Words that are coded
# in the tables above rarely appear as text (only when spelt or cased
# differently), so free-text vocabulary ranks above them.

DEFLATE_WORDS_V1 = (
    # least likely: rarer drugs and conditions
    "acamprosate", "disulfiram", "cinacalcet", "sevelamer", "alfacalcidol", "varenicline",
    "mirabegron", "solifenacin", "oxybutynin", "desmopressin", "estradiol", "testosterone",
    "goserelin", "bicalutamide", "anastrozole", "letrozole", "tamoxifen", "febuxostat",
    "colchicine", "etanercept", "infliximab", "adalimumab", "ciclosporin", "tacrolimus",
    "mycophenolate", "azathioprine", "hydroxychloroquine", "methotrexate", "phenobarbital",
    "clobazam", "zonisamide", "lacosamide", "topiramate", "rasagiline", "pramipexole",
    "ropinirole", "co-beneldopa", "co-careldopa", "levodopa", "galantamine", "rivastigmine",
    "memantine", "donepezil", "zolpidem", "zopiclone", "clonazepam", "lorazepam",
    "clozapine", "aripiprazole", "risperidone", "olanzapine", "quetiapine", "lithium",
    "trazodone", "venlafaxine", "mirtazapine", "paroxetine", "fluoxetine", "escitalopram",
    "duloxetine", "nortriptyline", "pregabalin", "gabapentin", "methadone", "buprenorphine",
    "oxycodone", "oramorph", "mebeverine", "loperamide", "docusate", "movicol", "laxido",
    "macrogol", "senna", "lactulose", "gaviscon", "famotidine", "esomeprazole",
    "pantoprazole", "theophylline", "montelukast", "trelegy", "fostair", "symbicort",
    "seretide", "fluticasone", "budesonide", "beclometasone", "tiotropium", "ipratropium",
    "fludrocortisone", "dexamethasone", "carbimazole", "finasteride", "tamsulosin",
    "doxazosin", "ranolazine", "nicorandil", "isosorbide mononitrate", "ivabradine",
    "eplerenone", "spironolactone", "indapamide", "bendroflumethiazide", "bumetanide",
    "dronedarone", "flecainide", "amiodarone", "digoxin", "sotalol", "nebivolol",
    "carvedilol", "propranolol", "metoprolol", "atenolol", "verapamil", "diltiazem",
    "lercanidipine", "nifedipine", "felodipine", "sacubitril", "valsartan", "irbesartan",
    "losartan", "candesartan", "enalapril", "perindopril", "lisinopril", "ezetimibe",
    "pravastatin", "rosuvastatin", "exenatide", "tirzepatide", "dulaglutide", "semaglutide",
    "liraglutide", "pioglitazone", "canagliflozin", "dapagliflozin", "empagliflozin",
    "alogliptin", "linagliptin", "sitagliptin", "prasugrel", "ticagrelor", "clopidogrel",
    "enoxaparin", "dalteparin", "tinzaparin", "heparin", "dabigatran",
    "Stevens-Johnson syndrome", "toxic epidermal necrolysis", "angioedema", "urticaria",
    "bronchospasm", "hypotension", "tachycardia", "bradycardia", "arrhythmia",
    "cardiomyopathy", "aortic stenosis", "mitral regurgitation", "heart block",
    "long QT syndrome", "myasthenia gravis", "motor neurone disease", "multiple sclerosis",
    "Huntington's disease", "cerebral palsy", "spina bifida", "hydrocephalus", "shunt",
    "sickle cell disease", "thalassaemia", "haemophilia", "von Willebrand disease",
    "malignant hyperthermia", "porphyria", "sarcoidosis", "bronchiectasis",
    "pulmonary fibrosis", "interstitial lung disease", "cystic fibrosis", "coeliac disease",
    "Crohn's disease", "ulcerative colitis", "liver cirrhosis", "hepatitis", "HIV",
    "leukaemia", "lymphoma", "myeloma", "chemotherapy", "radiotherapy", "immunosuppressed",
    "neutropenia", "asplenia", "no spleen", "splenectomy", "tracheostomy", "laryngectomy",
    "neck breather", "stoma", "colostomy", "ileostomy", "catheter", "PEG feeding",
    "difficult airway", "Addison's disease", "adrenal insufficiency", "adrenal crisis",
    "steroid dependent", "emergency hydrocortisone", "steroid emergency card",
    "hypopituitarism", "diabetes insipidus", "hypothyroidism", "hyperthyroidism",
    # allergens and reactions
    "shellfish", "tree nuts", "peanuts", "sesame", "soya", "gluten", "kiwi", "mustard",
    "celery", "lupin", "sulphites", "prawns", "wasp stings", "bee stings", "latex",
    "chlorhexidine", "contrast media", "iodine", "nickel", "elastoplast", "plasters",
    "sulfonamides", "cephalosporins", "flucloxacillin", "co-amoxiclav", "amoxicillin",
    "erythromycin", "clarithromycin", "doxycycline", "trimethoprim", "nitrofurantoin",
    "ciprofloxacin", "metronidazole", "NSAIDs", "diclofenac", "naproxen", "ibuprofen",
    "tramadol", "morphine", "codeine", "opioids", "local anaesthetic", "general anaesthetic",
    "rash", "hives", "itching", "swelling of lips and tongue", "throat swelling",
    "facial swelling", "difficulty breathing", "shortness of breath", "wheeze",
    "vomiting", "nausea", "diarrhoea", "collapse", "low blood pressure", "dizziness",
    "blisters", "intolerance", "anaphylaxis", "Anaphylaxis",
    # dose phrases and units
    "micrograms", "microgram", "nanograms", "mmol", "units", "unit", "tablets", "tablet",
    "capsules", "capsule", "puffs", "puff", "sachet", "drops", "patch", "spray", "inhaler",
    "nebuliser", "injection", "subcutaneous", "by mouth", "via PEG", "eye drops",
    "cream", "ointment", "liquid", "modified release", "MR", "SR", "XL", "up to",
    "one tablet", "two tablets", "half a tablet", "as directed", "sliding scale",
    "variable dose", "see yellow book", "INR target", "INR", "once weekly", "every other day",
    "four times daily", "three times daily", "twice daily", "once daily", "in the morning",
    "at night", "as required", "when needed", "with food", "before meals", "after meals",
    "every 4 hours", "every 6 hours", "every 8 hours", "every 12 hours", "hours", "weekly",
    "monthly", "mg", "ml", "g", "%",
    # common free text: devices, DNACPR/ReSPECT locations, communication, baseline
    "Medtronic", "Boston Scientific", "Abbott", "Biotronik", "St Jude", "Omnipod",
    "Tandem", "MiniMed", "Libre", "Dexcom", "CGM", "continuous glucose monitor",
    "pacemaker", "dual chamber", "single chamber", "ICD", "defibrillator", "CRT-D",
    "CRT-P", "loop recorder", "insulin pump", "VNS", "vagal nerve stimulator",
    "deep brain stimulator", "cochlear implant", "hearing aid", "hearing aids",
    "glasses", "dentures", "stent", "valve", "metal valve", "mechanical valve", "fitted",
    "implanted", "MRI conditional", "not MRI safe", "magnet", "battery", "checked",
    "DNACPR", "ReSPECT", "ReSPECT form", "DNACPR form", "do not attempt CPR",
    "advance decision", "ADRT", "lasting power of attorney", "LPA", "for ward-based care",
    "not for ICU", "for full escalation", "ceiling of care", "end of life care",
    "palliative care", "just in case medicines", "anticipatory medicines",
    "original form", "signed form", "form", "signed", "copy", "kept", "in the hall",
    "on the fridge", "in the fridge", "message in a bottle", "behind the front door",
    "in the kitchen", "kitchen drawer", "in kitchen drawer", "drawer", "bedroom",
    "in the bedroom", "bedside table", "by the bed", "in handbag", "in wallet",
    "with GP", "with care home", "at home", "in folder", "yellow folder", "red folder",
    "key safe", "key safe code", "lives alone", "lives with wife", "lives with husband",
    "lives with family", "care home", "nursing home", "carers visit", "twice a day",
    "hard of hearing", "deaf", "speak slowly", "speak clearly", "face me",
    "lip reads", "uses BSL", "British Sign Language", "interpreter", "needs interpreter",
    "partially sighted", "blind", "registered blind", "non-verbal", "autistic", "autism",
    "learning disability", "dementia", "confused", "anxious", "needle phobia",
    "communication book", "hospital passport", "sensory", "quiet room", "please",
    "walks with frame", "walks with stick", "walks unaided", "wheelchair", "hoist",
    "bedbound", "housebound", "independent", "mobile", "falls", "frail",
    "oxygen", "litres", "home oxygen", "target", "88-92%", "94-98%", "SpO2", "on air",
    "on oxygen", "normal for me", "usual", "baseline", "BP", "heart rate", "HR", "mmHg",
    "bpm", "GCS", "alert", "orientated", "seizures", "seizure", "tonic-clonic",
    "absences", "focal", "rescue medication", "buccal midazolam", "after 5 minutes",
    "recovery position", "hypo", "hypos", "hypoglycaemia", "blood sugar", "glucose",
    "ketones", "glucagon", "GlucoGel", "type 1", "type 2", "insulin", "insulin glargine",
    "stage 3", "stage 4", "CKD", "COPD", "AF", "heart failure", "atrial fibrillation",
    "asthma", "diabetes", "epilepsy", "hypertension", "angina", "stroke", "TIA",
    # GP practices, verifiers, contacts
    "The Surgery", "Medical Centre", "Medical Practice", "Health Centre", "Group Practice",
    "Family Practice", "Partnership", "Surgery", "Practice", "Road", "Street", "Lane",
    "Park", "House", "Village", "Dr ", "Nurse ", "Paramedic ", "Pharmacist ",
    "GMC ", "NMC ", "HCPC ", "GPhC ", "GP", "nurse", "consultant", "practice nurse",
    "community nurse", "district nurse", "verified", "reviewed", "Dr A ", "Dr J ",
    "husband", "wife", "partner", "son", "daughter", "mother", "father", "next of kin",
    "neighbour", "friend", "carer", "mobile", "home", "work", "+44 ", "+44 7", "07",
    "01", "02", "0121 ", "0161 ", "0113 ", "0114 ", "0117 ", "0131 ", "0141 ", "020 7",
    "020 8", "0", "1", "2", "3",
    # most likely last: frequent free-text words and fragments
    "Apixaban", "Warfarin", "Rivaroxaban", "Edoxaban", "Penicillin", "penicillin",
    "Metformin", "Insulin", "Atorvastatin", "Ramipril", "Bisoprolol", "Furosemide",
    "Salbutamol", "Prednisolone", "Hydrocortisone",
    "Speak slowly",
    "Lives alone", "Hard of hearing", "Walks with frame", "fitted 20", ", fitted 20",
    "2024", "2025", "2026", "2027", ". ", ", ",
)
