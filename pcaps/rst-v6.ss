# netns client
State Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
ESTAB 0      0      [2001:db8::1]:60838 [2001:db8::2]:80         
# netns server
State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN 0      4096   [2001:db8::2]:90            [::]:*           
LISTEN 0      4096   [2001:db8::2]:80            [::]:*           
ESTAB  0      0      [2001:db8::2]:80   [2001:db8::1]:60838       
