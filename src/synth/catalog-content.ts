/**
 * Word lists for the synthetic catalog: topics (categories) with Chinese and English
 * title stems, tags and description phrases. Data only.
 */

export interface TopicContent {
  /** The category name as stored on items. */
  readonly name: string;
  readonly en: string;
  /** Chinese title stems; a format such as "{stem}实战" turns one into a title. */
  readonly zh: readonly string[];
  /** English title stems. */
  readonly enStems: readonly string[];
  readonly tags: readonly string[];
  /** What a learner gets out of it, as objects of "学会…" / "learn to …". */
  readonly zhOutcomes: readonly string[];
  readonly enOutcomes: readonly string[];
  readonly zhAudience: readonly string[];
  readonly enAudience: readonly string[];
  /** Relative size of the topic's audience. */
  readonly weight: number;
}

export const TOPICS: readonly TopicContent[] = [
  {
    name: '职场',
    en: 'Career',
    zh: ['职场沟通', '高效汇报', '向上管理', '结构化思维', '时间管理', '职场写作', '谈判技巧', '新任管理者', '演讲表达', '跳槽与面试', '团队管理', '职业规划'],
    enStems: ['Negotiation Mastery', 'Leading Teams', 'Effective Communication', 'Career Design'],
    tags: ['沟通', '管理', '效率', '领导力', '面试', '写作'],
    zhOutcomes: ['清晰地表达观点', '写出一页纸汇报', '和上级高效对齐目标', '带领小团队拿结果', '在面试中讲好自己的故事', '把时间花在最重要的事情上'],
    enOutcomes: ['make your point in two minutes', 'run meetings that end with decisions', 'negotiate without burning bridges', 'give feedback people act on'],
    zhAudience: ['职场新人', '刚晋升的管理者', '想要转型的职场人', '工作三到五年的骨干'],
    enAudience: ['new managers', 'early-career professionals', 'anyone preparing for a promotion'],
    weight: 1.4,
  },
  {
    name: '编程',
    en: 'Programming',
    zh: ['Python 数据分析', 'Java 并发编程', '前端工程化', 'Go 语言', '算法面试', '机器学习入门', 'Rust 编程', 'SQL 实战', 'Kubernetes 运维', '深度学习', 'React 开发', '数据结构'],
    enStems: ['TypeScript Deep Dive', 'System Design Interview', 'Clean Code', 'Linux Command Line'],
    tags: ['Python', 'Java', '前端', '算法', '人工智能', '数据库', '后端', '云原生'],
    zhOutcomes: ['独立完成一个数据分析项目', '读懂并发程序的常见陷阱', '搭建可维护的前端工程', '通过大厂算法面试', '训练并部署第一个模型', '写出高效的 SQL 查询'],
    enOutcomes: ['design systems that scale', 'write code your teammates enjoy reading', 'debug production issues calmly', 'ship typed, tested services'],
    zhAudience: ['零基础转行的同学', '一到三年经验的工程师', '准备面试的应届生', '想补齐基础的开发者'],
    enAudience: ['working developers', 'computer science students', 'engineers preparing for interviews'],
    weight: 1.5,
  },
  {
    name: '财经',
    en: 'Finance',
    zh: ['个人理财', '基金投资', '股票入门', '经济学通识', '财务报表分析', '家庭资产配置', '保险规划', '宏观经济', '价值投资', '税务筹划'],
    enStems: ['Personal Finance 101', 'Investing Fundamentals', 'Behavioral Economics'],
    tags: ['理财', '投资', '基金', '经济学', '财报'],
    zhOutcomes: ['建立自己的家庭预算', '看懂一份上市公司财报', '搭建长期的基金组合', '理解利率和通胀对生活的影响', '避开常见的投资陷阱'],
    enOutcomes: ['build a budget that survives real life', 'read a balance sheet', 'invest for the long term', 'think clearly about risk'],
    zhAudience: ['理财小白', '刚开始工作的年轻人', '想给家庭做规划的父母', '对投资感兴趣的上班族'],
    enAudience: ['first-time investors', 'young professionals', 'families planning ahead'],
    weight: 1.2,
  },
  {
    name: '心理学',
    en: 'Psychology',
    zh: ['情绪管理', '亲密关系', '认知心理学', '积极心理学', '社会心理学', '自我成长', '焦虑应对', '心理咨询入门', '习惯养成', '非暴力沟通'],
    enStems: ['The Science of Happiness', 'Mindset Shift', 'Understanding Anxiety'],
    tags: ['情绪', '关系', '成长', '认知', '心理健康'],
    zhOutcomes: ['识别并接纳自己的情绪', '经营一段健康的关系', '用科学的方法养成好习惯', '缓解日常的焦虑', '更好地理解身边的人'],
    enOutcomes: ['notice your thinking traps', 'build habits that stick', 'handle stress with less drama', 'understand what drives people'],
    zhAudience: ['容易焦虑的年轻人', '想改善关系的伴侣', '对心理学好奇的读者', '正在经历转变的人'],
    enAudience: ['curious readers', 'people going through change', 'anyone who wants calmer days'],
    weight: 1.2,
  },
  {
    name: '英语',
    en: 'English',
    zh: ['商务英语', '英语口语', '雅思备考', '托福写作', '英语语法', '英文写作', '英语听力', '新概念英语', '美剧学英语', '职场英语邮件'],
    enStems: ['English Pronunciation Bootcamp', 'IELTS Speaking', 'Business English Essentials'],
    tags: ['口语', '考试', '听力', '写作', '商务英语'],
    zhOutcomes: ['开口说一口自然的英语', '雅思口语提升一分', '写出得体的英文邮件', '听懂语速正常的美剧', '系统梳理语法框架'],
    enOutcomes: ['speak with confidence in meetings', 'write emails that get replies', 'raise your IELTS band score'],
    zhAudience: ['备考的学生', '需要用英语工作的职场人', '想出国的家庭', '英语基础薄弱的成人'],
    enAudience: ['test takers', 'professionals working in English', 'learners at intermediate level'],
    weight: 1.1,
  },
  {
    name: '历史',
    en: 'History',
    zh: ['中国通史', '宋朝那些事', '明朝历史', '世界史', '三国演义', '丝绸之路', '罗马帝国', '近代史', '史记精读', '唐朝的气象'],
    enStems: ['A History of the World', 'The Roman Empire', 'Ancient China'],
    tags: ['中国史', '世界史', '人物', '读史'],
    zhOutcomes: ['建立完整的历史时间线', '读懂历史人物的选择', '从历史中理解今天', '读懂经典史书'],
    enOutcomes: ['see the big picture of world history', 'understand how empires rise and fall', 'read primary sources with care'],
    zhAudience: ['历史爱好者', '想补通识的上班族', '喜欢听故事的读者', '中学生和家长'],
    enAudience: ['history lovers', 'curious listeners', 'students of the humanities'],
    weight: 0.9,
  },
  {
    name: '育儿',
    en: 'Parenting',
    zh: ['0-3岁育儿', '儿童心理', '亲子沟通', '幼小衔接', '儿童阅读', '青春期教育', '家庭教育', '科学喂养', '儿童情绪管理', '培养专注力'],
    enStems: ['Positive Parenting', 'Raising Readers'],
    tags: ['亲子', '早教', '教育', '儿童心理'],
    zhOutcomes: ['读懂孩子行为背后的需要', '和孩子好好说话', '培养孩子的阅读习惯', '平稳度过幼小衔接', '科学安排孩子的饮食和睡眠'],
    enOutcomes: ['set limits without shouting', 'raise a child who loves books', 'support teenagers through change'],
    zhAudience: ['新手爸妈', '二胎家庭', '孩子上小学的家长', '青春期孩子的父母'],
    enAudience: ['new parents', 'parents of teenagers', 'caregivers and teachers'],
    weight: 1.0,
  },
  {
    name: '健康',
    en: 'Health',
    zh: ['科学减脂', '睡眠改善', '营养学', '跑步训练', '中医养生', '瑜伽入门', '体态矫正', '慢病管理', '运动康复', '健康饮食'],
    enStems: ['Sleep Better', 'Strength Training Basics', 'Nutrition Science'],
    tags: ['健身', '饮食', '睡眠', '养生', '运动'],
    zhOutcomes: ['制定适合自己的减脂计划', '改善睡眠质量', '科学地开始跑步', '吃得健康又不痛苦', '纠正久坐带来的体态问题'],
    enOutcomes: ['sleep through the night', 'train safely at home', 'eat well without counting every calorie'],
    zhAudience: ['久坐的上班族', '运动新手', '关注家人健康的人', '想减重的朋友'],
    enAudience: ['busy professionals', 'beginners to exercise', 'anyone who wants more energy'],
    weight: 1.0,
  },
  {
    name: '产品',
    en: 'Product',
    zh: ['产品经理', '用户增长', '数据驱动', '需求分析', '用户研究', 'B端产品设计', '商业模式', '增长黑客', '产品思维', 'AI 产品'],
    enStems: ['Product Management Essentials', 'Growth Analytics', 'Product-Led Growth'],
    tags: ['产品经理', '增长', '数据分析', '用户研究'],
    zhOutcomes: ['写出清晰的需求文档', '搭建增长实验体系', '用数据做产品决策', '做一次有效的用户访谈', '设计可落地的商业模式'],
    enOutcomes: ['run experiments that teach you something', 'prioritise a roadmap', 'find the metric that matters'],
    zhAudience: ['初级产品经理', '想转行做产品的运营', '创业者', '技术出身的负责人'],
    enAudience: ['product managers', 'founders', 'growth teams'],
    weight: 0.9,
  },
  {
    name: '设计',
    en: 'Design',
    zh: ['UI 设计', '平面设计', '交互设计', 'Figma 入门', '品牌设计', '设计思维', '商业插画', '手机摄影', '配色原理', '字体设计'],
    enStems: ['Design Systems', 'Typography Fundamentals', 'UX Research Methods'],
    tags: ['UI', '交互', '视觉', '品牌', '摄影'],
    zhOutcomes: ['做出一套完整的 App 界面', '建立自己的设计规范', '拍出有质感的照片', '掌握配色和排版的基本功'],
    enOutcomes: ['build a component library', 'choose type with intent', 'test designs with real users'],
    zhAudience: ['设计新人', '想提升审美的产品和运营', '自由职业者', '摄影爱好者'],
    enAudience: ['junior designers', 'product people who design', 'freelancers'],
    weight: 0.8,
  },
];

export const ZH_FORMATS = {
  course: ['{s}实战', '{s}{n}讲', '{s}：从入门到精通', '{s}训练营', '{s}核心课', '{s}进阶课'],
  column: ['{s}专栏', '每天学点{s}', '{s}100问', '{s}精进手册', '{s}周刊'],
  audiobook: ['听书｜{s}', '{s}（有声书）', '《{s}》精讲', '{s}音频课'],
} as const;

export const EN_FORMATS = {
  course: ['{s}', '{s}: A Practical Course', '{s} Masterclass', '{s} Bootcamp'],
  column: ['{s} Weekly', 'The {s} Letter', '{s} Notes'],
  audiobook: ['{s} (Audiobook)', '{s}: The Audio Edition'],
} as const;

export const ZH_PARTS_2 = ['（上）', '（下）'] as const;
export const ZH_SEASON = ['', '第一季', '第二季', '第三季', '第四季'] as const;
export const EN_PARTS = ['', 'Part 1', 'Part 2', 'Part 3', 'Part 4'] as const;

export const ZH_TYPE_WORD = { course: '视频课', column: '专栏', audiobook: '有声书', membership: '会员' } as const;
export const EN_TYPE_WORD = { course: 'video course', column: 'column', audiobook: 'audiobook', membership: 'membership' } as const;

export const ZH_TEACHERS = ['王磊', '李静', '张伟', '刘洋', '陈晨', '杨帆', '赵敏', '黄勇', '周婷', '吴昊', '徐丽', '孙悦', '马骏', '胡歌', '郭靖', '林晓'];
export const ZH_TEACHER_BIO = ['前互联网大厂总监', '高校副教授', '十年一线从业者', '畅销书作者', '资深咨询顾问', '知名博主', '行业研究员', '连续创业者'];
export const EN_TEACHERS = ['Sarah Chen', 'David Miller', 'Emma Wilson', 'James Carter', 'Olivia Brown', 'Daniel Lee', 'Grace Taylor', 'Michael Zhang'];
export const EN_TEACHER_BIO = ['a former Google lead', 'a university lecturer', 'a bestselling author', 'a practitioner with fifteen years in the field', 'a startup founder'];

export const LEVEL_TAGS_ZH = ['入门', '进阶', '高阶'] as const;
